"""Mailer: consumes events and sends each daily digest email once in effect."""
