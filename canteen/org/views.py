from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from canteen.core.pagination import paginate
from canteen.core.todo import todo_for

from . import selectors
from .choices import Role


@login_required
def home(request):
    # What needs the user now comes first (each domain's providers, canteen/core/todo.py).
    context = {"overview": selectors.org_overview(actor=request.user), "todo": todo_for(request.user)}
    if request.user.role == Role.GUARDIAN:
        context["children"] = selectors.children_of(guardian_user=request.user)
    return render(request, "home.html", context)


@login_required
def school_list(request):
    schools = selectors.schools_visible(actor=request.user).order_by("code")
    return render(request, "org/school_list.html", {"schools": schools})


@login_required
def student_list(request):
    search = request.GET.get("q", "").strip()[:40]
    page = paginate(request, selectors.students_visible(actor=request.user, search=search), 50)
    return render(request, "org/student_list.html", {"page": page, "q": search})
