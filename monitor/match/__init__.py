"""match stage: which topics an article matches, which terms, where, with a snippet."""

from monitor.match.engine import Matcher, QueryError, check_query
from monitor.match.result import Hit, TopicMatch, labels

__all__ = ["Hit", "Matcher", "QueryError", "TopicMatch", "check_query", "labels"]
