"""The API's JSON parser: DRF's, bounded in nesting (see contactcenter.validators)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from contactcenter.validators import JsonTooDeep, json_depth_exceeds, json_max_depth


class BoundedJSONParser(JSONParser):
    """JSON bodies nested deeper than JSON_MAX_DEPTH are a 400 (`parse_error`) naming the
    problem; Python's json module would otherwise fail on very deep input with a RecursionError
    (a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = json_max_depth()
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - {JsonTooDeep(limit)}") from None
        if json_depth_exceeds(data, limit):
            raise ParseError(f"JSON parse error - {JsonTooDeep(limit)}")
        return data
