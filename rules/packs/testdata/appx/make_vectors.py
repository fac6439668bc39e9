#!/usr/bin/env python3
"""Writes the AppX pack's conformance vectors (run from this folder).

The events are constructed (no real host or user) except case 05, which
transcribes the real upstream samples of ../upstream. Each case's expected
risk messages are written out below by hand, field by field, from the SPL of
each rule (see NOTE.md of the case for the reasoning); this script computes
only the message id (sha256 of rule_id|window_start|by values, DESIGN.md),
and renders the same events as XmlWinEventLog and ECS JSON where a case has
those forms. It does not run msixguard.
"""
import hashlib
import json
import os
from xml.sax.saxutils import escape

FULL = "windows_appx_deployment_full_trust_package_installation"
UNSIGNED = "windows_appx_deployment_unsigned_package_installation"
SUCCESS = "windows_appx_deployment_package_installation_success"
SEED = "windows_developer_signed_msix_package_installation"
NAMES = {
    FULL: "Windows AppX Deployment Full Trust Package Installation",
    UNSIGNED: "Windows AppX Deployment Unsigned Package Installation",
    SUCCESS: "Windows AppX Deployment Package Installation Success",
    SEED: "Windows Developer-Signed MSIX Package Installation",
}
# by-fields in rule order, with their output names (rename dvc as dest).
BY = {
    FULL: [("dvc", "dest"), ("EventCode", "EventCode"), ("HasFullTrust", "HasFullTrust"), ("user_id", "user_id")],
    UNSIGNED: [("dvc", "dest"), ("EventCode", "EventCode"), ("Flags", "Flags"), ("user_id", "user_id")],
    SUCCESS: [("dvc", "dest"), ("EventCode", "EventCode"), ("user_id", "user_id")],
    SEED: [("dvc", "dest"), ("EventCode", "EventCode"), ("user_id", "user_id")],
}
RISK = {  # score, threat object field, threat object type, mitre
    FULL: (15, "PackageFullName", "file_name", ["T1553.005", "T1204.002"]),
    UNSIGNED: (65, "file_name", "file_name", ["T1553.005", "T1204.002"]),
    SUCCESS: (10, "PackagePath", "file_path", ["T1204.002"]),
    SEED: (40, "PackageMoniker", "file_name", ["T1553.005", "T1204.002"]),
}

U1 = "S-1-5-21-1111111111-2222222222-3333333333-1105"
U2 = "S-1-5-21-1111111111-2222222222-3333333333-1201"
U3 = "S-1-5-21-1111111111-2222222222-3333333333-1202"
U4 = "S-1-5-21-1111111111-2222222222-3333333333-1301"
U5 = "S-1-5-21-1111111111-2222222222-3333333333-1302"
U6 = "S-1-5-21-1111111111-2222222222-3333333333-1417"


def msg(rule, window_start, window_end, by, count, first, last, values, risk_message):
    """One expected final message. by: output values in rule order (EventCode
    an int: the filter compares it with a YAML number); values: the values()
    outputs, already distinct and byte-sorted."""
    score, threat, threat_type, mitre = RISK[rule]
    m = {"id": None, "kind": "final", "rule_id": rule, "search_name": NAMES[rule],
         "window_start": window_start, "window_end": window_end}
    for (_, out), v in zip(BY[rule], by):
        m[out] = v
    m.update({"count": count, "firstTime": first, "lastTime": last})
    m.update(values)
    m.update({"risk_object": m["dest"], "risk_object_type": "system", "risk_score": score,
              "threat_object": values[threat], "threat_object_type": threat_type,
              "risk_message": risk_message, "mitre_attack": mitre})
    key = "|".join([rule, window_start] + [str(v) for v in by])
    m["id"] = hashlib.sha256(key.encode()).hexdigest()[:32]
    return m


def xml_event(e):
    sys = ["<Provider Name='Microsoft-Windows-AppXDeployment-Server' Guid='{3f471139-acb7-4a01-b7a7-ff5da4ba2d43}'/>",
           "<EventID>%s</EventID>" % e["EventCode"],
           "<TimeCreated SystemTime='%s'/>" % e["_time"],
           "<Channel>Microsoft-Windows-AppXDeploymentServer/Operational</Channel>"]
    if "dvc" in e:
        sys.append("<Computer>%s</Computer>" % escape(e["dvc"]))
    sys.append("<Security UserID='%s'/>" % e["user_id"] if "user_id" in e else "<Security/>")
    data = "".join("<Data Name='%s'>%s</Data>" % (k, escape(str(v))) for k, v in e.items()
                   if k not in ("_time", "EventCode", "dvc", "user_id"))
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>%s</System>"
            "<EventData>%s</EventData></Event>" % ("".join(sys), data))


def ecs_event(e):
    winlog = {"channel": "Microsoft-Windows-AppXDeploymentServer/Operational", "event_id": str(e["EventCode"]),
              "provider_name": "Microsoft-Windows-AppXDeployment-Server", "api": "wineventlog",
              "event_data": {k: v for k, v in e.items() if k not in ("_time", "EventCode", "dvc", "user_id")}}
    doc = {"@timestamp": e["_time"], "event": {"code": str(e["EventCode"]), "kind": "event"}}
    if "dvc" in e:
        winlog["computer_name"] = e["dvc"]
        doc["host"] = {"name": e["dvc"].lower()}
    if "user_id" in e:
        winlog["user"] = {"identifier": e["user_id"]}
    doc["winlog"] = winlog
    return doc


def write_case(name, note, events, expected, forms=("ndjson",)):
    os.makedirs(name, exist_ok=True)
    with open(os.path.join(name, "NOTE.md"), "w") as f:
        f.write(note.strip() + "\n")
    with open(os.path.join(name, "events.ndjson"), "w") as f:
        for e in events:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    if "xml" in forms:
        with open(os.path.join(name, "events.xml"), "w") as f:
            for e in events:
                f.write(xml_event(e) + "\n")
    if "ecs" in forms:
        with open(os.path.join(name, "events.ecs.ndjson"), "w") as f:
            for e in events:
                f.write(json.dumps(ecs_event(e), ensure_ascii=False) + "\n")
    expected.sort(key=lambda m: (m["window_start"], m["rule_id"], m["dest"], m["user_id"]))
    with open(os.path.join(name, "expected.ndjson"), "w") as f:
        for m in expected:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")


# ---- 01: full trust (400, HasFullTrust="true") ----
fakebat = "FakeBat.Installer_2.4.0.0_x64__r8mhq3a1c9xdw"
contoso = "Contoso.Tools_1.2.0.0_x64__r8mhq3a1c9xdw"
startmenu = "Microsoft.Windows.StartMenuExperienceHost_10.0.26100.4768_neutral_neutral_cw5n1h2txyewy"
ev01 = [
    {"_time": "2024-06-03T10:52:00.0000000Z", "EventCode": 400, "dvc": "WS-0201", "user_id": U1, "HasFullTrust": "true",
     "PackageFullName": fakebat, "Path": "C:\\Users\\jdoe\\Downloads\\setup.msix",
     "PackageSourceUri": "file:///C:/Users/jdoe/Downloads/setup.msix", "PackageDisplayName": "Setup Helper",
     "CallingProcess": "AppInstaller.exe", "IsCentennial": "false"},
    {"_time": "2024-06-03T11:05:30.2500000Z", "EventCode": 400, "dvc": "WS-0201", "user_id": U1, "HasFullTrust": "true",
     "PackageFullName": contoso, "Path": "C:\\Users\\jdoe\\Downloads\\tools.msix",
     "PackageSourceUri": "file:///C:/Users/jdoe/Downloads/tools.msix", "PackageDisplayName": "Contoso Tools",
     "CallingProcess": "AppInstaller.exe", "IsCentennial": "true"},
    {"_time": "2024-06-03T11:10:00.0000000Z", "EventCode": 400, "dvc": "WS-0201", "user_id": U1, "HasFullTrust": "false",
     "PackageFullName": "Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe", "CallingProcess": "sihost.exe"},
    {"_time": "2024-06-03T11:20:00.0000000Z", "EventCode": 400, "dvc": "WS-0202", "user_id": U1, "HasFullTrust": "True",
     "PackageFullName": startmenu, "Path": "(Microsoft.Windows.StartMenuExperienceHost_cw5n1h2txyewy)",
     "PackageDisplayName": "NULL", "CallingProcess": "svchost.exe,ProfSvc", "IsCentennial": "false"},
    {"_time": "2024-06-03T11:30:00.0000000Z", "EventCode": 400, "dvc": "WS-0201", "user_id": U1,
     "PackageFullName": fakebat, "CallingProcess": "AppInstaller.exe"},
    {"_time": "2024-06-03T11:40:00.0000000Z", "EventCode": 401, "dvc": "WS-0201", "user_id": U1, "HasFullTrust": "true",
     "PackageFullName": fakebat},
    {"_time": "2024-06-03T11:45:00.0000000Z", "EventCode": "400", "dvc": "WS-0201", "HasFullTrust": "true",
     "PackageFullName": fakebat},
    {"_time": "2024-06-03T11:55:00.0000000Z", "EventCode": 400, "dvc": "WS-0201", "user_id": U1, "HasFullTrust": "true",
     "PackageFullName": fakebat, "Path": "C:\\Users\\jdoe\\Downloads\\setup.msix",
     "PackageSourceUri": "file:///C:/Users/jdoe/Downloads/setup.msix", "PackageDisplayName": "Setup Helper",
     "CallingProcess": "AppInstaller.exe", "IsCentennial": "false"},
]
exp01 = [
    msg(FULL, "2024-06-03T10:50:00Z", "2024-06-03T11:50:00Z", ["WS-0201", 400, "true", U1], 2,
        "2024-06-03T10:52:00", "2024-06-03T11:05:30",
        {"PackageFullName": [contoso, fakebat],
         "PackagePath": ["C:\\Users\\jdoe\\Downloads\\setup.msix", "C:\\Users\\jdoe\\Downloads\\tools.msix"],
         "PackageSourceUri": ["file:///C:/Users/jdoe/Downloads/setup.msix", "file:///C:/Users/jdoe/Downloads/tools.msix"],
         "PackageDisplayName": ["Contoso Tools", "Setup Helper"], "CallingProcess": ["AppInstaller.exe"],
         "IsCentennial": ["false", "true"]},
        "A full-trust MSIX/AppX package %s, %s was installed on WS-0201 by user %s through AppInstaller.exe." % (contoso, fakebat, U1)),
    msg(FULL, "2024-06-03T10:50:00Z", "2024-06-03T11:50:00Z", ["WS-0202", 400, "True", U1], 1,
        "2024-06-03T11:20:00", "2024-06-03T11:20:00",
        {"PackageFullName": [startmenu], "PackagePath": ["(Microsoft.Windows.StartMenuExperienceHost_cw5n1h2txyewy)"],
         "PackageSourceUri": [], "PackageDisplayName": ["NULL"], "CallingProcess": ["svchost.exe,ProfSvc"],
         "IsCentennial": ["false"]},
        "A full-trust MSIX/AppX package %s was installed on WS-0202 by user %s through svchost.exe,ProfSvc." % (startmenu, U1)),
    msg(FULL, "2024-06-03T11:50:00Z", "2024-06-03T12:50:00Z", ["WS-0201", 400, "true", U1], 1,
        "2024-06-03T11:55:00", "2024-06-03T11:55:00",
        {"PackageFullName": [fakebat], "PackagePath": ["C:\\Users\\jdoe\\Downloads\\setup.msix"],
         "PackageSourceUri": ["file:///C:/Users/jdoe/Downloads/setup.msix"], "PackageDisplayName": ["Setup Helper"],
         "CallingProcess": ["AppInstaller.exe"], "IsCentennial": ["false"]},
        "A full-trust MSIX/AppX package %s was installed on WS-0201 by user %s through AppInstaller.exe." % (fakebat, U1)),
]
write_case("01_full_trust", """
Full-trust rule (400, HasFullTrust="true"). Window [10:50, 11:50): two full-trust
installs by one user on WS-0201 make one group (values distinct and byte-sorted;
IsCentennial false and true); HasFullTrust="True" matches (case-insensitive) but is
its own group, since stats by keeps the value as written; a Microsoft package
(cw5n1h2txyewy) counts too, as in the SPL. Not counted: HasFullTrust false, a 400
without HasFullTrust, EventCode 401, an event without user_id (missing by-field).
The event at 11:55 opens window [11:50, 12:50).
""", ev01, exp01, forms=("ndjson", "xml", "ecs"))

# ---- 02: unsigned (603, Flags="8388608") ----
ev02 = [
    {"_time": "2024-06-03T12:51:10.0000000Z", "EventCode": 603, "dvc": "DEV-07", "user_id": U2, "DeploymentOperation": 1,
     "Path": "C:\\temp\\unsigned_app.msix", "Flags": "8388608", "FlagsHigh": 0, "CallingProcess": "powershell.exe"},
    {"_time": "2024-06-03T12:58:00.0000000Z", "EventCode": 603, "dvc": "DEV-07", "user_id": U2, "DeploymentOperation": 1,
     "Path": "C:\\temp\\unsigned_app2.msix", "Flags": 8388608, "FlagsHigh": 0, "CallingProcess": "pwsh.exe"},
    {"_time": "2024-06-03T13:00:00.0000000Z", "EventCode": 603, "dvc": "DEV-07", "user_id": U2,
     "Path": "C:\\temp\\signed.msix", "Flags": 0, "CallingProcess": "powershell.exe"},
    {"_time": "2024-06-03T13:01:00.0000000Z", "EventCode": 603, "dvc": "DEV-07", "user_id": U2,
     "Path": "C:\\temp\\other_bits.msix", "Flags": 8388609, "CallingProcess": "powershell.exe"},
    {"_time": "2024-06-03T13:02:00.0000000Z", "EventCode": 603, "dvc": "DEV-07", "user_id": U2,
     "Path": "C:\\temp\\hex.msix", "Flags": "0x800000", "CallingProcess": "powershell.exe"},
    {"_time": "2024-06-03T13:10:00.0000000Z", "EventCode": 603, "dvc": "DEV-08", "Flags": "8388608",
     "Path": "C:\\temp\\no_user.msix", "CallingProcess": "powershell.exe"},
    {"_time": "2024-06-03T13:20:00.0000000Z", "EventCode": 603, "dvc": "DEV-08", "user_id": U3, "Flags": "8388608"},
    {"_time": "2024-06-03T13:25:00.0000000Z", "EventCode": 604, "dvc": "DEV-08", "user_id": U3, "Flags": "8388608"},
]
exp02 = [
    msg(UNSIGNED, "2024-06-03T12:50:00Z", "2024-06-03T13:50:00Z", ["DEV-07", 603, "8388608", U2], 2,
        "2024-06-03T12:51:10", "2024-06-03T12:58:00",
        {"file_name": ["C:\\temp\\unsigned_app.msix", "C:\\temp\\unsigned_app2.msix"],
         "CallingProcess": ["powershell.exe", "pwsh.exe"]},
        "Unsigned MSIX/AppX package C:\\temp\\unsigned_app.msix, C:\\temp\\unsigned_app2.msix installation attempted on DEV-07 by user %s using powershell.exe, pwsh.exe" % U2),
    msg(UNSIGNED, "2024-06-03T12:50:00Z", "2024-06-03T13:50:00Z", ["DEV-08", 603, "8388608", U3], 1,
        "2024-06-03T13:20:00", "2024-06-03T13:20:00",
        {"file_name": [], "CallingProcess": []},
        "Unsigned MSIX/AppX package  installation attempted on DEV-08 by user %s using " % U3),
]
write_case("02_unsigned", """
Unsigned rule (603, Flags="8388608", the -AllowUnsigned flag). One window
[12:50, 13:50). Flags given as the string "8388608" and as the number 8388608 are the
same value, so both DEV-07 events make one group (Path as file_name). Not counted,
exactly as the SPL: Flags 0, Flags 8388609 (another bit set too: equality, not a bit
test), Flags "0x800000" (hex is not the number 8388608 in SPL), an event without
user_id, EventCode 604. DEV-08's event has no Path or CallingProcess: it counts, its
values are empty and the message renders them empty.
""", ev02, exp02, forms=("ndjson", "xml", "ecs"))

# ---- 03: installation success (854) ----
inbox = ("file:///C:/WINDOWS/InboxApps/Microsoft.StartExperiencesApp_8wekyb3d8bbwe.msixbundle "
         "file:///C:/WINDOWS/InboxApps/Microsoft.StartExperiencesApp_8wekyb3d8bbwe.msixbundle\\MicrosoftStartFeedPackage_1.151.0.0_x64.msix")
reader = "file:///C:/Users/kiosk/Downloads/Reader.msixbundle"
ev03 = [
    {"_time": "2024-06-03T09:49:59.9990000Z", "EventCode": 854, "dvc": "KIOSK-3", "user_id": U4, "Path": reader},
    {"_time": "2024-06-03T09:50:00.0000000Z", "EventCode": 854, "dvc": "KIOSK-3", "user_id": U4, "Path": reader},
    {"_time": "2024-06-03T10:10:00.0000000Z", "EventCode": 854, "dvc": "KIOSK-3", "user_id": U4, "Path": inbox},
    {"_time": "2024-06-03T10:20:00.0000000Z", "EventCode": 853, "dvc": "KIOSK-3", "user_id": U4, "Path": reader},
    {"_time": "2024-06-03T10:30:00.0000000Z", "EventCode": 854, "dvc": "KIOSK-3", "user_id": U5},
]
exp03 = [
    msg(SUCCESS, "2024-06-03T08:50:00Z", "2024-06-03T09:50:00Z", ["KIOSK-3", 854, U4], 1,
        "2024-06-03T09:49:59", "2024-06-03T09:49:59", {"PackagePath": [reader]},
        "A MSIX/AppX package %s was successfully installed on KIOSK-3 by user %s." % (reader, U4)),
    msg(SUCCESS, "2024-06-03T09:50:00Z", "2024-06-03T10:50:00Z", ["KIOSK-3", 854, U4], 2,
        "2024-06-03T09:50:00", "2024-06-03T10:10:00", {"PackagePath": [reader, inbox]},
        "A MSIX/AppX package %s, %s was successfully installed on KIOSK-3 by user %s." % (reader, inbox, U4)),
    msg(SUCCESS, "2024-06-03T09:50:00Z", "2024-06-03T10:50:00Z", ["KIOSK-3", 854, U5], 1,
        "2024-06-03T10:30:00", "2024-06-03T10:30:00", {"PackagePath": []},
        "A MSIX/AppX package  was successfully installed on KIOSK-3 by user %s." % U5),
]
write_case("03_installation_success", """
Installation-success rule (854, no other condition). 09:49:59.999 falls in window
[08:50, 09:50); 09:50:00 opens [09:50, 10:50) (firstTime drops the fraction). A Path
naming several package URIs separated by spaces (the real 854 shape) is one value;
values sort by bytes ("file:///C:/U…" before "file:///C:/W…"). EventCode 853 does not
count. An 854 without Path counts with no values.
""", ev03, exp03, forms=("ndjson", "xml", "ecs"))

# ---- 04: one install session, all four rules in one pass ----
teams_pkg = "TeamsUpdate.Client_5.1.0.0_x64__k3v9x2m4q8wzt"
teams_path = "C:\\Users\\mbeck\\Downloads\\TeamsSetup.msix"
teams_uri = "file:///C:/Users/mbeck/Downloads/TeamsSetup.msix"
wu_uri = "x-windowsupdate://05C4B27B-6E00-4A05-9B94-15C77E54E690/F855810C-9F77-45FF-A0F5-CD0FEAA945C6/508bfda4dcfb262c40e6f5d8e8811b3f47ee98a2"
ev04 = [
    {"_time": "2024-06-03T14:02:00.1000000Z", "EventCode": 603, "dvc": "LAPTOP-0917", "user_id": U6, "DeploymentOperation": 1,
     "Path": teams_path, "Flags": "8388608", "FlagsHigh": "0", "CallingProcess": "powershell.exe", "ExternalLocation": ""},
    {"_time": "2024-06-03T14:02:03.0000000Z", "EventCode": 400, "dvc": "LAPTOP-0917", "user_id": U6, "DeploymentOperation": 1,
     "PackageFullName": teams_pkg, "Path": teams_path, "PackageSourceUri": teams_uri, "PackageDisplayName": "Microsoft Teams",
     "CallingProcess": "powershell.exe", "IsCentennial": "false", "HasFullTrust": "true"},
    {"_time": "2024-06-03T14:02:09.0000000Z", "EventCode": 854, "dvc": "LAPTOP-0917", "user_id": U6, "Path": teams_uri},
    {"_time": "2024-06-03T14:02:10.0000000Z", "EventCode": 855, "dvc": "LAPTOP-0917", "user_id": U6,
     "PackageMoniker": " addPackageList: " + teams_pkg},
    {"_time": "2024-06-03T14:30:00.0000000Z", "EventCode": 400, "dvc": "LAPTOP-0917", "user_id": U6,
     "PackageFullName": "Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe", "PackageSourceUri": wu_uri,
     "CallingProcess": "sihost.exe", "HasFullTrust": "false"},
    {"_time": "2024-06-03T14:30:01.0000000Z", "EventCode": 854, "dvc": "LAPTOP-0917", "user_id": U6, "Path": wu_uri},
    {"_time": "2024-06-03T14:30:02.0000000Z", "EventCode": 855, "dvc": "LAPTOP-0917", "user_id": U6,
     "PackageMoniker": " addPackageList: Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe"},
]
W = ("2024-06-03T13:50:00Z", "2024-06-03T14:50:00Z")
exp04 = [
    msg(UNSIGNED, W[0], W[1], ["LAPTOP-0917", 603, "8388608", U6], 1, "2024-06-03T14:02:00", "2024-06-03T14:02:00",
        {"file_name": [teams_path], "CallingProcess": ["powershell.exe"]},
        "Unsigned MSIX/AppX package %s installation attempted on LAPTOP-0917 by user %s using powershell.exe" % (teams_path, U6)),
    msg(FULL, W[0], W[1], ["LAPTOP-0917", 400, "true", U6], 1, "2024-06-03T14:02:03", "2024-06-03T14:02:03",
        {"PackageFullName": [teams_pkg], "PackagePath": [teams_path], "PackageSourceUri": [teams_uri],
         "PackageDisplayName": ["Microsoft Teams"], "CallingProcess": ["powershell.exe"], "IsCentennial": ["false"]},
        "A full-trust MSIX/AppX package %s was installed on LAPTOP-0917 by user %s through powershell.exe." % (teams_pkg, U6)),
    msg(SUCCESS, W[0], W[1], ["LAPTOP-0917", 854, U6], 2, "2024-06-03T14:02:09", "2024-06-03T14:30:01",
        {"PackagePath": [teams_uri, wu_uri]},
        "A MSIX/AppX package %s, %s was successfully installed on LAPTOP-0917 by user %s." % (teams_uri, wu_uri, U6)),
    msg(SEED, W[0], W[1], ["LAPTOP-0917", 855, U6], 1, "2024-06-03T14:02:10", "2024-06-03T14:02:10",
        {"PackageMoniker": [" addPackageList: " + teams_pkg]},
        "A developer-signed MSIX package \" addPackageList: %s\" was installed on LAPTOP-0917 by user %s." % (teams_pkg, U6)),
]
write_case("04_install_session", """
One install session on LAPTOP-0917, all four rules of the pack in one pass over the
stream, window [13:50, 14:50): an unsigned deployment (603 with Flags 8388608), the
full-trust deployment of the same package (400), its success (854) and its 855 with a
developer publisher ID each give their rule's message. The later Store update is a
400 with HasFullTrust false (no full-trust message), an 854 (the success group now
counts 2, both Paths) and an 855 with a Store publisher (excluded by the seed rule).
""", ev04, exp04, forms=("ndjson", "xml", "ecs"))

# ---- 05: the real upstream samples, transcribed ----
ev05 = [
    # security_content 400 example_log (XML): HasFullTrust false.
    {"_time": "2025-08-06T16:21:23.2487289Z", "EventCode": 400, "dvc": "HaagMSIX", "user_id": "S-1-5-21-2568234075-4274264167-1034506908-500",
     "DeploymentOperation": "6", "PackageFullName": "Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe",
     "Path": " (AppxBundleManifest.xml) ", "CallingProcess": "sihost.exe", "IsCentennial": "false", "HasFullTrust": "false",
     "PackageSourceUri": "x-windowsupdate://05C4B27B-6E00-4A05-9B94-15C77E54E690/F855810C-9F77-45FF-A0F5-CD0FEAA945C6/508bfda4dcfb262c40e6f5d8e8811b3f47ee98a2",
     "PackageDisplayName": " "},
    # security_content 855 example_log (XML): Store packages only.
    {"_time": "2025-08-06T16:20:58.5814488Z", "EventCode": 855, "dvc": "HaagMSIX", "user_id": "S-1-5-21-2568234075-4274264167-1034506908-500",
     "PackageMoniker": " addPackageList: Microsoft.DesktopAppInstaller_1.26.430.0_neutral_split.scale-100_8wekyb3d8bbwe Microsoft.DesktopAppInstaller_2025.717.1857.0_neutral_~_8wekyb3d8bbwe updateList: Microsoft.DesktopAppInstaller_1.26.429.0_x64__8wekyb3d8bbwe is updating to Microsoft.DesktopAppInstaller_1.26.430.0_x64__8wekyb3d8bbwe"},
    # SigmaHQ regression 400: HasFullTrust true.
    {"_time": "2026-08-05T16:15:02.8306320Z", "EventCode": 400, "dvc": "SigmaCatchVm", "user_id": "S-1-5-21-4246997345-1000708036-2014123355-1001",
     "DeploymentOperation": 2, "PackageFullName": startmenu, "Path": "(Microsoft.Windows.StartMenuExperienceHost_cw5n1h2txyewy)",
     "MountPoint": "C:", "IsCentennial": "false", "CallingProcess": "svchost.exe,ProfSvc", "HasFullTrust": "true",
     "ExternalLocation": "", "PackageSourceUri": "", "PackageDisplayName": "NULL"},
    # SigmaHQ regression 854.
    {"_time": "2026-08-05T16:09:35.8246722Z", "EventCode": 854, "dvc": "SigmaCatchVm", "user_id": "S-1-5-21-4246997345-1000708036-2014123355-1001",
     "Path": "file:///C:/WINDOWS/InboxApps/Microsoft.StartExperiencesApp_8wekyb3d8bbwe.msixbundle file:///C:/WINDOWS/InboxApps/Microsoft.StartExperiencesApp_8wekyb3d8bbwe.msixbundle\\MicrosoftStartFeedPackage_1.151.0.0_x64.msix file:///C:/WINDOWS/InboxApps/Microsoft.StartExperiencesApp_8wekyb3d8bbwe.msixbundle\\MicrosoftStartFeedPackage_1.151.0.0_language-fr.msix"},
    # evtx-baseline 603: Flags 0.
    {"_time": "2023-11-06T06:22:35.420135+00:00", "EventCode": 603, "dvc": "WinDev2310Eval", "user_id": "S-1-5-18",
     "DeploymentOperation": 10, "Path": "MicrosoftWindows.UndockedDevKit_10.0.22621.1_neutral_neutral_cw5n1h2txyewy",
     "Flags": 0, "FlagsHigh": 0, "CallingProcess": "svchost.exe,AppXSvc", "ExternalLocation": ""},
]
sigma_user = "S-1-5-21-4246997345-1000708036-2014123355-1001"
sigma_path = ev05[3]["Path"]
exp05 = [
    msg(FULL, "2026-08-05T15:50:00Z", "2026-08-05T16:50:00Z", ["SigmaCatchVm", 400, "true", sigma_user], 1,
        "2026-08-05T16:15:02", "2026-08-05T16:15:02",
        {"PackageFullName": [startmenu], "PackagePath": ["(Microsoft.Windows.StartMenuExperienceHost_cw5n1h2txyewy)"],
         "PackageSourceUri": [], "PackageDisplayName": ["NULL"], "CallingProcess": ["svchost.exe,ProfSvc"], "IsCentennial": ["false"]},
        "A full-trust MSIX/AppX package %s was installed on SigmaCatchVm by user %s through svchost.exe,ProfSvc." % (startmenu, sigma_user)),
    msg(SUCCESS, "2026-08-05T15:50:00Z", "2026-08-05T16:50:00Z", ["SigmaCatchVm", 854, sigma_user], 1,
        "2026-08-05T16:09:35", "2026-08-05T16:09:35", {"PackagePath": [sigma_path]},
        "A MSIX/AppX package %s was successfully installed on SigmaCatchVm by user %s." % (sigma_path, sigma_user)),
]
write_case("05_upstream_samples", """
The real upstream samples of ../upstream, transcribed into normalized JSON with their
values unchanged (the XML ones: the fields the rules read). HaagMSIX's 400 has
HasFullTrust false and its 855 names Store packages only: no message. SigmaCatchVm's
400 is full trust (a Microsoft package, cw5n1h2txyewy: the SPL does not exclude Store
publishers) and its 854 is a success; both fall in window [15:50, 16:50). The
evtx-baseline 603 has Flags 0: no message. An empty PackageSourceUri is missing, as
in SPL, so that values() is empty.
""", ev05, exp05)
