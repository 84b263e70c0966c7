"""Observatoire: i-milo exports -> validated, pseudonymised warehouse of annual indicators."""
