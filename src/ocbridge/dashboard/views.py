"""Dashboard views."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ocbridge.core.models import Store


@login_required
def home(request):
    return render(request, "dashboard/home.html", {"stores": Store.objects.all()})
