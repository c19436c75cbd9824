from django.apps import AppConfig


class EtlConfig(AppConfig):
    name = "etl"
    verbose_name = "Pipeline and warehouse"

    def ready(self) -> None:
        from etl import worker_lifecycle  # noqa: F401  (connects the worker's signal receivers)
