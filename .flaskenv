FLASK_APP=bot:create_app
DDCI_ENV=development
