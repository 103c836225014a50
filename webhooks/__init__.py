"""The Dropbox webhook receiver: verify, acknowledge in milliseconds, coalesce bursts.

``signature`` checks ``X-Dropbox-Signature`` over the raw body, ``notification`` tells
a notification from junk and names its accounts, ``inbox`` turns notifications for
our account into catch-up requests (a burst becomes at most two), and ``routes``
serves ``GET``/``POST /webhook``. The catch-up itself is ``app.sync``'s.
"""
