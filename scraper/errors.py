"""The exception tree of qkfeed.

    QkfeedError
    ├── ConfigError          bad config file: names the file, the key and the problem
    ├── UsageError           bad command-line input that argparse itself cannot catch
    ├── FetchError           a URL could not be fetched (after retries)
    │   ├── BlockedByRobots  robots.txt disallows the URL
    │   ├── AddressBlocked   the URL resolves to a non-global address
    │   ├── ResponseTooLarge the body exceeds the size cap
    │   ├── HTTPStatusError  a final non-success status (after retries)
    │   ├── RedirectLoop     redirects came back to a URL already asked, or never ended
    │   └── OffsiteRedirect  a page redirected to a host no configured source lives on
    ├── ExtractError         a page yielded no usable article (layout drift, error page)
    └── StorageError         the database cannot be opened or is from a newer version
        └── StorageURLError  the storage URL names no store qkfeed can open (a usage
                             or configuration error, exit 2, not a failing store)

Which fetch errors are retried, and how often, is data (``scraper.fetch.retry``:
``RETRY_STATUSES``, ``RETRY_EXCEPTIONS``, ``UNREACHABLE_EXCEPTIONS``), not scattered
``except`` clauses.
"""

from __future__ import annotations


class QkfeedError(Exception):
    """Base of every error qkfeed raises on purpose."""


class ConfigError(QkfeedError):
    """The configuration file is malformed; the message names file, key and problem."""

    def __init__(self, path: str, key: str | None, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")


class UsageError(QkfeedError):
    """Bad command-line input that argparse itself cannot catch (exit 2)."""


class FetchError(QkfeedError):
    """A URL could not be fetched."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class BlockedByRobots(FetchError):
    """robots.txt of the host disallows this URL for our user agent."""


class AddressBlocked(FetchError):
    """The host resolves to a loopback/private/link-local address and that is not allowed."""


class ResponseTooLarge(FetchError):
    """The response body is larger than the configured cap."""


class HTTPStatusError(FetchError):
    """The server answered with a final error status."""

    def __init__(self, url: str, status: int) -> None:
        self.status = status
        super().__init__(url, f"HTTP {status}")


class RedirectLoop(FetchError):
    """Redirects led back to a URL of the same chain, or went on past the limit (a site that
    wants a session cookie first answers so: the pipeline's feed listing then visits the
    page that gives the cookie and asks again)."""


class OffsiteRedirect(FetchError):
    """A page ended up, through redirects, on a host that no configured source lives on."""


class ExtractError(QkfeedError):
    """A page did not yield a usable article."""


class StorageError(QkfeedError):
    """The store cannot be used (unreadable path, newer schema, ...)."""


class StorageURLError(StorageError):
    """The storage URL itself is unusable (unknown scheme, no path): fixed in the config or
    the command line, so the CLI reports it as a usage error (exit 2), not a storage one."""
