"""WeCom in the admin: the members' userids (the staff profile's WeCom part), the customers
and their links to players, the tags, and the group-message tasks with each one's results
per member (what a supervisor follows). Written through campaigns.services.wecom."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.admin_columns import player_column, text_column, time_column
from crm.names import staff_name
from crm.privacy import can_view_personal_data
from crm.sources import source_text

from ..models import WecomContact, WecomMember, WecomTag, WecomTask
from ..services.wecom import wecom_contact_link, wecom_member_set


class WecomMemberForm(forms.ModelForm):
    class Meta:
        model = WecomMember
        fields = ["user", "userid"]

    def clean(self):
        data = super().clean()
        if data.get("userid") and WecomMember.objects.filter(userid=data["userid"]).exclude(pk=self.instance.pk):
            self.add_error("userid", _("Another staff member has this WeCom userid."))
        return data


@admin.register(WecomMember)
class WecomMemberAdmin(admin.ModelAdmin):
    form = WecomMemberForm
    list_display = ["staff_display", "userid", "last_error"]
    list_select_related = ["user"]
    search_fields = ["userid", "user__username", "user__last_name", "user__first_name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["last_error"]

    @admin.display(description=_("staff member"), ordering="user__last_name")
    def staff_display(self, obj):
        return staff_name(obj.user)

    def save_model(self, request, obj, form, change):
        member = wecom_member_set(user=form.cleaned_data["user"], userid=form.cleaned_data["userid"])
        if member is not None:
            obj.pk = member.pk


@admin.register(WecomTag)
class WecomTagAdmin(admin.ModelAdmin):
    list_display = ["name", "group_name", "deleted"]
    list_filter = ["deleted"]
    search_fields = ["name", "group_name"]

    def has_add_permission(self, request):
        return False  # WeCom's tags: synced, not made here

    def has_change_permission(self, request, obj=None):
        return False


class WecomContactForm(forms.ModelForm):
    class Meta:
        model = WecomContact
        fields = ["player"]

    def clean_player(self):
        player = self.cleaned_data.get("player")
        if player is not None and WecomContact.objects.filter(player=player).exclude(pk=self.instance.pk).exists():
            raise ValidationError(_("This player is already linked to another WeCom customer."))
        return player


@admin.register(WecomContact)
class WecomContactAdmin(admin.ModelAdmin):
    """WeCom's customers. The WeChat name and the member's remark are personal data: shown
    only to staff who may see it."""

    form = WecomContactForm
    list_display = [
        "external_userid",
        player_column(link=True),
        "member_display",
        "tags_display",
        time_column("added_at", WecomContact._meta.get_field("added_at").verbose_name),
    ]
    list_select_related = ["player", "member__user"]
    search_fields = ["external_userid", "player__account_id", "member__userid"]
    raw_id_fields = ["player"]
    readonly_fields = ["external_userid", "member_display", "tags_display", "added_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_fields(self, request, obj=None):
        fields = ["external_userid", "player", "member_display", "tags_display", "added_at"]
        return [*fields, "name", "remark"] if can_view_personal_data(request.user) else fields

    def get_readonly_fields(self, request, obj=None):
        extra = ["name", "remark"] if can_view_personal_data(request.user) else []
        return [*self.readonly_fields, *extra]

    @admin.display(description=_("serving member"), ordering="member__userid")
    def member_display(self, obj):
        return staff_name(obj.member.user) if obj.member else "-"

    @admin.display(description=_("tags"))
    def tags_display(self, obj):
        return ", ".join(tag.name for tag in obj.tags.all() if not tag.deleted) or "-"

    def has_add_permission(self, request):
        return False  # customers come from WeCom (wecom_sync)

    def save_model(self, request, obj, form, change):
        wecom_contact_link(contact=obj, player=form.cleaned_data.get("player"))


class MemberFilter(admin.SimpleListFilter):
    """Whose tasks: the WeCom members by name."""

    title = _("member")
    parameter_name = "member__id__exact"

    def lookups(self, request, model_admin):
        members = WecomMember.objects.select_related("user").order_by("user__last_name", "user__first_name", "pk")
        return [(str(member.pk), staff_name(member.user) or member.userid) for member in members]

    def queryset(self, request, queryset):
        return queryset.filter(member_id=self.value()) if self.value() else queryset


@admin.register(WecomTask)
class WecomTaskAdmin(admin.ModelAdmin):
    """The group-message tasks, one per member and text, with their customers' results."""

    list_display = [
        "member_display",
        "campaign_display",
        time_column("created_at", WecomTask._meta.get_field("created_at").verbose_name),
        "customers",
        "sent",
        "not_friend",
        "over_limit",
        "refused",
        "waiting_display",
        "status",
        time_column("read_at", WecomTask._meta.get_field("read_at").verbose_name),
    ]
    list_select_related = ["member__user", "campaign"]
    list_filter = ["status", MemberFilter]
    search_fields = ["msgid", "member__userid", "campaign__name"]
    fields = [
        "member_display",
        "campaign_display",
        text_column("text", WecomTask._meta.get_field("text").verbose_name),
        "created_at",
        "customers",
        "sent",
        "not_friend",
        "over_limit",
        "refused",
        "waiting_display",
        "status",
        "read_at",
        "msgid",
    ]
    readonly_fields = fields

    @admin.display(description=_("member"), ordering="member__user__last_name")
    def member_display(self, obj):
        return staff_name(obj.member.user) or obj.member.userid

    @admin.display(description=_("campaign or greeting"))
    def campaign_display(self, obj):
        return obj.campaign.name if obj.campaign else source_text(obj.source)

    @admin.display(description=_("waiting"))
    def waiting_display(self, obj):
        return obj.waiting

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
