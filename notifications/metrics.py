"""Prometheus metrics of the delivery path (exported at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("herald_ws_connections", "Open WebSocket connections in this process")
PUBLISHED = Counter("herald_notifications_published_total", "Notifications stored", ["kind"])
DELIVERED = Counter("herald_notifications_delivered_total", "Notification frames queued to sockets")
REPLAYED = Counter("herald_notifications_replayed_total", "Notifications sent by replay")
DELIVERY_LAG = Histogram(
    "herald_delivery_lag_seconds",
    "Time from a notification's creation to its fan-out in this process",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SLOW_CLOSED = Counter("herald_slow_consumers_closed_total", "Sockets closed because they stopped reading")
LAYER_ERRORS = Counter("herald_channel_layer_errors_total", "Channel layer failures", ["op"])
GAP_FILLS = Counter("herald_hub_gap_fills_total", "Events the hub read from the database (lost or late)")
RATE_LIMITED = Counter("herald_rate_limited_total", "Requests or frames refused by a rate limit", ["where"])
