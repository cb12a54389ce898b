"""The one page players open themselves: the satisfaction survey behind a signed link
(players.services.surveys). No login: the link's signature is the key; a forged,
mangled or expired link gets the same "no longer valid" page. Small and readable on a
phone."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from .models import SurveyStatus, SurveyVia
from .services.surveys import survey_answer, survey_from_token


@never_cache
@csrf_protect
def survey_page(request, token: str):
    survey = survey_from_token(token)
    if survey is None:
        return render(request, "players/survey.html", {"state": "invalid"}, status=404)
    if survey.status == SurveyStatus.ANSWERED:
        return render(request, "players/survey.html", {"state": "answered", "survey": survey})
    if survey.status == SurveyStatus.EXPIRED:
        return render(request, "players/survey.html", {"state": "invalid"}, status=410)
    errors = {}
    if request.method == "POST":
        try:
            survey_answer(
                survey=survey,
                score=request.POST.get("score", ""),
                reason=request.POST.get("reason", ""),
                via=SurveyVia.LINK,
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            return render(request, "players/survey.html", {"state": "thanks", "survey": survey})
    context = {
        "state": "ask",
        "survey": survey,
        "name": survey.player.nickname or survey.player.account_id,
        "errors": errors,
        "scores": [5, 4, 3, 2, 1],
        "chosen": request.POST.get("score", ""),
        "reason": request.POST.get("reason", "")[:500],
    }
    return render(request, "players/survey.html", context, status=400 if errors else 200)
