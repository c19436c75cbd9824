from django.core.asgi import get_asgi_application

from sales_dashboard.env import use_default_settings_module

use_default_settings_module()
application = get_asgi_application()
