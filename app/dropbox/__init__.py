"""The Dropbox adapter: the only code that imports the ``dropbox`` SDK."""
