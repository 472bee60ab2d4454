"""Content negotiation: ``?format=`` names one of the view's formats, or the answer is a 400 that lists them.

DRF answers an unknown ``?format=`` with 404, as if the path did not exist;
the path does, and only the parameter is wrong. A format suffix in the path
(``/pools/7.xml``) names no path there is, and stays a 404.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with an unknown ``?format=`` refused as bad input."""

    def select_renderer(self, request, renderers, format_suffix=None):
        """DRF's choice; a query format no renderer has is a 400 naming the formats there are."""
        name = self.settings.URL_FORMAT_OVERRIDE
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if view is not None and getattr(view, request.method.lower(), None) is None:
            # A method the view does not serve: the answer is its 405, whatever format was asked for.
            return renderers[0], renderers[0].media_type
        wanted = request.query_params.get(name) if name and format_suffix is None else None
        if wanted and not any(renderer.format == wanted for renderer in renderers):
            formats = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({name: [f"Unknown format {wanted!r}: use {formats}."]})
        return super().select_renderer(request, renderers, format_suffix)
