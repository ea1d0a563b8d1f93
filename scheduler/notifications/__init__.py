"""Notifications to officers: render.py (what they read), router.py (channels, fan-out),
email.py (SMTP), delivery.py (the notifications table: queue and send, with retries and
circuits), alerts.py (telling the admins and a unit that a channel keeps failing)."""
