"""The service's configuration, in two parts named apart.

``app.configuration.environment``: ``Settings``, the environment variables (and
``.env``) every process reads: credentials, directories, limits.
``app.configuration.file``: ``Config``, the libraries and channels, from the
``UNPOSTED_CONFIG`` file or, without one, from the environment's defaults.
"""
