"""Sign-in throttling, shared by the API's sign-in routes and the admin's login page.

Attempts are counted per client address in fixed windows of the rate's period, in the
default cache, which every web process shares (Redis in production, a file cache on the
embedded stack): ``cache.incr`` on Redis is atomic, so a parallel burst cannot slip past
the limit. The client address is the TCP peer (REMOTE_ADDR); only when
``RADLABEL_TRUSTED_PROXIES`` proxies stand in front is it read from X-Forwarded-For,
that many hops from the right (DRF's ``NUM_PROXIES`` rule), so a client's own header
never picks its bucket.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class LoginRateThrottle(SimpleRateThrottle):
    scope = "login"

    def get_rate(self) -> str:
        # read at call time, not import time, so the setting can change (tests, reload)
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"throttle:{self.scope}:{self.get_ident(request)}"

    def allow_request(self, request: Any, view: Any) -> bool:
        now = time.time()
        window = int(now // self.duration)
        self.retry_after = (window + 1) * self.duration - now
        key = f"{self.get_cache_key(request, view)}:{window}"
        cache.add(key, 0, timeout=self.duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # the window's key expired between add and incr
            cache.add(key, 1, timeout=self.duration + 1)
            count = 1
        if count > self.num_requests:
            logger.warning(
                "sign-in throttled: attempt %s this window from %s", count, self.get_ident(request)
            )
            return False
        return True

    def wait(self) -> float:
        return self.retry_after


def login_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view`` (a login page) with ``LoginRateThrottle`` on its POSTs: 429 and Retry-After."""

    @functools.wraps(view)
    def throttled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            throttle = LoginRateThrottle()
            if not throttle.allow_request(request, None):
                response = HttpResponse(
                    "Too many sign-in attempts; try again later.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(math.ceil(throttle.wait()))
                return response
        return view(request, *args, **kwargs)

    return throttled
