FLASK_APP=bot:cli_app
SQLALCHEMY_SILENCE_UBER_WARNING=1
# DDCI_ENV is not set here on purpose: a `flask` command without it runs as production (it
# needs the real secrets, and sends to the real Graph API). `make run` sets development; to
# work on that embedded instance from a shell: export DDCI_ENV=development (README).
