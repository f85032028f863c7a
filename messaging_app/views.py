from django.shortcuts import render

from workspaces_app.decorators import workspace_member_required


@workspace_member_required("view")
def inbox(request):
    return render(request, "messaging/inbox.html")


@workspace_member_required("view")
def analytics(request):
    return render(request, "messaging/analytics.html")
