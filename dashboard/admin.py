"""The admin of the beat schedule (django-celery-beat's periodic tasks), without inline script.

django-celery-beat's change form shows a crontab in words with an inline ``<script>``, which the
Content-Security-Policy (``CONTENT_SECURITY_POLICY``: ``script-src 'self'``) blocks. Its admin is
kept as it is, only with a change form whose script is a static file.
"""

from __future__ import annotations

from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask


class ScheduleAdmin(PeriodicTaskAdmin):
    change_form_template = "admin/dashboard/periodic_task_change_form.html"


if admin.site.is_registered(PeriodicTask):
    admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, ScheduleAdmin)
