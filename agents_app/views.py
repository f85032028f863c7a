from django.shortcuts import render

from agents_app.selectors import agents_list
from workspaces_app.decorators import workspace_member_required


@workspace_member_required("view")
def agent_list(request):
    return render(request, "agents/agent_list.html", {"agents": agents_list(workspace=request.workspace)})
