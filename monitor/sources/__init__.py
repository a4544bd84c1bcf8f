"""sources stage: turn a fetched feed or listing page into candidate articles."""

from monitor.sources.candidate import Candidate, DiscoverError
from monitor.sources.feeds import parse_feed
from monitor.sources.links import selector_error
from monitor.sources.listing import parse_listing

__all__ = ["Candidate", "DiscoverError", "parse_feed", "parse_listing", "selector_error"]
