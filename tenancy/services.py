"""Writes on organizations."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug

from tenancy.models import Organization

# The columns' own limits, checked here so SQLite (which does not enforce them) and PostgreSQL
# refuse the same input with the same message.
ORGANIZATION_SLUG_MAX_LENGTH = int(Organization._meta.get_field("slug").max_length or 80)


def organization_slug_clean(slug: str) -> str:
    """The slug as given (trimmed), or a ValidationError: it is never silently changed (``ORG-A``
    is refused with a hint, not turned into ``org-a``, which may be another organization)."""
    value = str(slug).strip()
    if len(value) > ORGANIZATION_SLUG_MAX_LENGTH:
        raise ValidationError(
            f"An organization slug has at most {ORGANIZATION_SLUG_MAX_LENGTH} characters (got {len(value)}).",
            code="max_length",
        )
    try:
        validate_slug(value)
    except ValidationError:
        raise ValidationError(
            f"{value!r} is not a slug (lowercase letters, digits, - and _).", code="invalid"
        ) from None
    if value != value.lower():
        raise ValidationError(
            f"Organization slugs are lowercase: did you mean {value.lower()!r}?", code="invalid"
        )
    return value


def organization_get_or_create(*, slug: str, name: str | None = None) -> Organization:
    slug = organization_slug_clean(slug)
    organization, _ = Organization.objects.get_or_create(
        slug=slug, defaults={"name": name or slug.replace("-", " ").replace("_", " ").title()}
    )
    return organization
