from django.shortcuts import render

from channels_app.selectors import channels_list
from workspaces_app.decorators import workspace_member_required


@workspace_member_required("view")
def channel_list(request):
    return render(request, "channels/channel_list.html", {"channels": channels_list(workspace=request.workspace)})


@workspace_member_required("view")
def template_list(request):
    return render(request, "channels/template_list.html", {"channels": channels_list(workspace=request.workspace)})
