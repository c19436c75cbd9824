"""The Celery application. Configuration comes from Django settings under the ``CELERY_`` prefix."""

from celery import Celery

from sales_dashboard.env import use_default_settings_module

use_default_settings_module()

app = Celery("sales_dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["etl", "dashboard"])
