from django.core.wsgi import get_wsgi_application

from sales_dashboard.env import use_default_settings_module

use_default_settings_module()
application = get_wsgi_application()
