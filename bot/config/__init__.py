"""Deployment configuration: config.yml (schema.py) plus secrets from the environment
(settings.py), validated at start. Classes elsewhere receive plain values from here and never
read config themselves."""
from bot.config.schema import ConfigError, ConfigModel, PageModel, RemindersModel, UnitModel
from bot.config.settings import (DEV_APP_SECRET, DEV_VERIFY_TOKEN, REPO_ROOT, Settings, load_config_file,
                                 load_settings)

__all__ = ["ConfigError", "ConfigModel", "DEV_APP_SECRET", "DEV_VERIFY_TOKEN", "PageModel", "REPO_ROOT",
           "RemindersModel", "Settings", "UnitModel", "load_config_file", "load_settings"]
