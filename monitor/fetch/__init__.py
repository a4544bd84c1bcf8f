"""fetch stage: the only module that talks HTTP."""

from monitor.fetch.http import DEFAULT_USER_AGENT, FetchResult, HttpClient, parse_retry_after

__all__ = ["DEFAULT_USER_AGENT", "FetchResult", "HttpClient", "parse_retry_after"]
