"""match stage: which topics an article matches, which terms, where, with a snippet."""

from monitor.match.engine import Matcher, QueryError, TopicMatch

__all__ = ["Matcher", "QueryError", "TopicMatch"]
