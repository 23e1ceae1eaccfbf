"""Demo app: only provides the `ocbridge demo` command."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "ocbridge.demo"
    label = "demo"
