from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_schedules(sender: AppConfig, **kwargs: object) -> None:
    from dashboard.services import periodic_tasks_install

    periodic_tasks_install()


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        # The schedule is declared in code and installed idempotently after every migrate.
        post_migrate.connect(_install_schedules, sender=self, dispatch_uid="dashboard.install_schedules")
        # A finished sync: compute its organization's default views before anyone opens them.
        from dashboard.services import dashboard_cache_warm_schedule
        from etl.signals import sync_finished

        sync_finished.connect(dashboard_cache_warm_schedule, dispatch_uid="dashboard.cache_warm_schedule")
