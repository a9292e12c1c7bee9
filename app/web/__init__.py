"""The HTTP kit every domain's views use: request session, actor, validated endpoints, errors, i18n, CSRF."""
