"""Thin views: parse, call one domain operation, shape the response."""
