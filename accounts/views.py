"""The API tokens page: create (the key is shown once, in that response only), list, revoke."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors, services
from notifications.views import page, secure_page


@secure_page
def tokens(request: HttpRequest) -> HttpResponse:
    new_key = None
    error = ""
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name or len(name) > 100:
            error = "Give the token a name of 1 to 100 characters."
        else:
            token, new_key = services.token_create(user=request.user, name=name)
            # Rendered in this response and nowhere else; the page is sent no-store.
            messages.success(request, f"Token {token.name!r} created. Copy its key now: it is not shown again.")
    return page(
        request,
        "accounts/tokens.html",
        {
            "tokens": selectors.token_list(user=request.user),
            "new_key": new_key,
            "error": error,
        },
        status=400 if error else 200,
    )


@secure_page
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.token_get(user=request.user, token_id=token_id)
    if token is None:
        raise Http404("No such token.")
    services.token_revoke(token=token)
    messages.success(request, f"Token {token.name!r} revoked.")
    return redirect(reverse("tokens"))
