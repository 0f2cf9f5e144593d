"""Fault injection: real server processes, real Redis servers killed and restarted."""
