"""The staff roles and what each may do. Synced by a data migration and after every
`migrate`, so a permission added with a new model reaches its roles."""

ROLE_PERMISSIONS = {
    "VIP manager": [
        "players.view_player",
        "players.change_player",
        "players.view_personal_data",
        "players.view_payment",
        "players.view_tag",
        "players.view_contactlog",
        "players.add_contactlog",
        "players.change_contactlog",
        # service records: cases of their own players, feedback they hear
        "players.view_case",
        "players.add_case",
        "players.change_case",
        "players.view_slapolicy",
        "crm.view_companydayoff",
        "players.view_compensationproposal",
        "players.view_compensationapprovalrule",
        "players.view_callscript",
        "players.view_satisfactionsurvey",
        "players.view_feedbackreport",
        "players.add_feedbackreport",
        "players.view_feedbacktopic",
        "vip.view_tier",
        "vip.view_tierchange",
        "vip.view_managerassignment",
        "campaigns.view_outreachtask",
        "campaigns.change_outreachtask",
        "campaigns.add_outreachtask",
        "campaigns.view_message",
        "campaigns.view_greetingrule",
        "campaigns.view_customoccasion",
        "campaigns.view_greeting",
        "campaigns.skip_greeting",
        "campaigns.view_giftentry",
        "campaigns.add_giftentry",
        "campaigns.view_giftbudget",
        "campaigns.record_outcome",
        "players.view_atriskplayer",
        "players.view_payerstatuschange",
        "players.view_churnrule",
        # a player's rights over their data (PIPL): hand over a copy, ask for an erasure
        "players.hand_over_player_data",
        "players.request_erasure",
        # what their players said about being reached, and their minors' payments over the caps
        "players.view_consentevent",
        "players.record_consent",
        "players.view_minorspendflag",
        # possible duplicates among their own players
        "players.view_duplicatecandidate",
        "players.review_duplicates",
    ],
    "Supervisor": [
        "players.view_player",
        "players.view_projectionpending",  # the system status
        "players.change_player",
        "players.view_personal_data",
        "players.view_all_players",
        "players.assign_manager",
        "players.export_players",
        "players.export_large",
        "players.view_importjob",
        "players.view_exportrecord",
        "players.view_payment",
        "players.view_tag",
        "players.add_tag",
        "players.change_tag",
        "players.view_contactlog",
        "players.add_contactlog",
        "players.change_contactlog",
        # service records: every case, escalations, the team's report, feedback
        "players.view_case",
        "players.add_case",
        "players.change_case",
        "players.view_team_report",
        "players.receive_escalations",
        "players.view_slapolicy",
        "players.add_slapolicy",
        "players.change_slapolicy",
        "players.delete_slapolicy",
        "players.view_compensationproposal",
        "players.approve_compensation",
        "players.view_compensationapprovalrule",
        "players.add_compensationapprovalrule",
        "players.change_compensationapprovalrule",
        "players.delete_compensationapprovalrule",
        "players.view_satisfactionsurvey",
        "players.view_callscript",
        "players.add_callscript",
        "players.change_callscript",
        "crm.view_companydayoff",
        "crm.add_companydayoff",
        "crm.change_companydayoff",
        "crm.delete_companydayoff",
        "players.view_feedbackreport",
        "players.add_feedbackreport",
        "players.view_feedbacktopic",
        "players.change_feedbacktopic",
        "players.merge_feedbacktopic",
        "players.export_feedback",
        "vip.view_tier",
        "vip.change_tier",
        "vip.view_tierchange",
        "vip.view_managerassignment",
        "campaigns.view_outreachtask",
        "campaigns.change_outreachtask",
        "campaigns.add_outreachtask",
        "campaigns.view_message",
        "campaigns.retry_message",
        # WeCom: the group-message tasks' results, the customers' links, the members' userids
        "campaigns.view_wecomtask",
        "campaigns.view_wecomcontact",
        "campaigns.change_wecomcontact",
        "campaigns.view_wecomtag",
        "campaigns.view_wecommember",
        "campaigns.add_wecommember",
        "campaigns.change_wecommember",
        "campaigns.delete_wecommember",
        "campaigns.view_greetingrule",
        "campaigns.add_greetingrule",
        "campaigns.change_greetingrule",
        "campaigns.view_customoccasion",
        "campaigns.add_customoccasion",
        "campaigns.change_customoccasion",
        "campaigns.view_nosendday",
        "campaigns.add_nosendday",
        "campaigns.change_nosendday",
        "campaigns.delete_nosendday",
        "campaigns.view_greeting",
        "campaigns.skip_greeting",
        "campaigns.view_giftentry",
        "campaigns.add_giftentry",
        "campaigns.view_giftbudget",
        "campaigns.add_giftbudget",
        "campaigns.change_giftbudget",
        "campaigns.record_outcome",
        "campaigns.view_campaign",
        "campaigns.add_campaign",
        "campaigns.change_campaign",
        "campaigns.launch_campaign",
        "campaigns.view_campaign_results",
        "players.view_atriskplayer",
        "players.view_payerstatuschange",
        "players.view_churnrule",
        "players.add_churnrule",
        "players.change_churnrule",
        "players.delete_churnrule",
        "players.view_churn_report",
        # a player's rights over their data (PIPL): the request log, and confirming erasures
        "players.view_datarequest",
        "players.hand_over_player_data",
        "players.request_erasure",
        "players.confirm_erasure",
        "players.view_consentevent",
        "players.record_consent",
        "players.view_minorspendflag",
        "players.review_minorspendflag",
        "players.view_servermerge",
        "players.view_duplicatecandidate",
        "players.review_duplicates",
        # one person behind several accounts: merge two people, undo a merge
        "players.merge_people",
        "players.view_personmerge",
    ],
    "Operations": [
        "players.view_player",
        "players.view_projectionpending",  # the system status: is the CRM keeping up with the game's events?
        "players.add_player",
        "players.change_player",
        "players.view_all_players",
        "players.import_players",
        "players.export_players",
        "players.view_importjob",
        "players.view_payment",
        "players.view_tag",
        "players.add_tag",
        "players.change_tag",
        # the product team reads feedback through the operations role
        "players.view_feedbackreport",
        "players.view_feedbacktopic",
        "players.change_feedbacktopic",
        "players.merge_feedbacktopic",
        "players.export_feedback",
        "vip.view_tier",
        "vip.view_tierchange",
        # server merges (合服)
        "players.view_servermerge",
        "players.merge_servers",
    ],
}

# The head of service ("Head", 客服负责人): everything a supervisor may, and the last step of the
# escalation ladder (cases the supervisors held past their time).
ROLE_PERMISSIONS["Head"] = [*ROLE_PERMISSIONS["Supervisor"], "players.receive_head_escalations"]

# Permissions a role once had and must no longer have: taken away by the next sync.
# VIP managers see their players' personal data but do not take it out of the CRM in files.
ROLE_REVOKED = {
    "VIP manager": ["players.export_players", "players.export_large"],
}


def roles_sync(apps=None, schema_editor=None):
    """Create the role groups and grant their permissions (missing ones are skipped:
    an old migration runs before later models exist)."""
    from django.apps import apps as live_apps
    from django.contrib.auth.management import create_permissions

    historical = apps is not None
    apps = apps or live_apps
    for app_config in apps.get_app_configs():
        if historical:  # a migration's app registry has no models modules
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        if historical:
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            wanted += Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        group.permissions.add(*wanted)
    for role, codes in ROLE_REVOKED.items():
        group = Group.objects.filter(name=role).first()
        for code in codes if group else ():
            app_label, codename = code.split(".")
            group.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))
