"""qkfeed: follows Vietnam's military news sites and publishes one clean feed.

Data flow: config -> scheduler -> fetch -> extract -> normalize -> dedup -> store
-> render -> serve.  Each arrow is one module; see README.md.
"""

__version__ = "0.1.0"
