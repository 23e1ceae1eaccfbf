"""Netgsm simulator: SMS REST v2 codes, report, read-once inbox, voice SMS with one key press."""

from __future__ import annotations

import httpx
import pytest

from ocbridge.simulators.netgsm import NetgsmSimulator

AUTH = ("8503000000", "netgsm-secret")


@pytest.fixture
def sim():
    with NetgsmSimulator(speed=1000) as s:
        s.set_customer_defaults(answer_delay=5, reply_delay=5)
        yield s


def send(sim, messages=None, **extra):
    body = {"msgheader": "OCBRIDGE", "messages": messages or [{"msg": "Sipariş 1042: EVET/IPTAL", "no": "5321234567"}],
            "encoding": "TR", **extra}
    return httpx.post(f"{sim.base_url}/sms/rest/v2/send", json=body, auth=AUTH)


def test_send_report_and_read_once_inbox(sim):
    sim.set_customer("5321234567", sms_reply="İPTAL")
    resp = send(sim)
    assert resp.status_code == 200 and resp.json()["code"] == "00" and resp.json()["jobid"]
    jobid = resp.json()["jobid"]
    sim.wait_for(lambda: sim.sms_messages()[0]["status"] == 1)
    report = httpx.post(f"{sim.base_url}/sms/rest/v2/report", json={"jobids": [jobid]}, auth=AUTH).json()
    assert report["code"] == "00" and report["jobs"][0]["number"] == "5321234567" and report["jobs"][0]["status"] == 1
    sim.wait_for(lambda: sim.state()["inbox"])
    first = httpx.get(f"{sim.base_url}/sms/rest/v2/inbox", auth=AUTH).json()
    assert first["messages"] == [{**first["messages"][0], "message": "İPTAL", "sender": "905321234567"}]
    again = httpx.get(f"{sim.base_url}/sms/rest/v2/inbox", auth=AUTH)
    assert again.json()["code"] == "40"  # read once: gone from the undated listing
    dated = httpx.get(f"{sim.base_url}/sms/rest/v2/inbox", params={"startdate": "010120000000", "stopdate": "010130000000"},
                      auth=AUTH).json()
    assert dated["messages"][0]["message"] == "İPTAL"


@pytest.mark.parametrize("change,code", [
    ({"msgheader": "NOPE"}, "40"), ({"messages": [{"msg": "", "no": "5321234567"}]}, "20"),
    ({"messages": [{"msg": "x" * 1000, "no": "5321234567"}]}, "20"), ({"messages": [{"msg": "x"}]}, "70"),
    ({"startdate": "2024-01-01"}, "70"),
])
def test_send_error_codes(sim, change, code):
    resp = send(sim, **change) if "messages" not in change else send(sim, change["messages"])
    assert resp.status_code == 406 and resp.json()["code"] == code and resp.json()["description"]


def test_bad_credentials_code_30(sim):
    resp = httpx.post(f"{sim.base_url}/sms/rest/v2/send", json={}, auth=("x", "y"))
    assert resp.json()["code"] == "30"


def test_iys_codes(sim):
    sim.set_iys(allowed=False)
    assert send(sim, iysfilter="11").json()["code"] == "50"
    sim.set_iys(allowed=True, brand=False)
    assert send(sim, iysfilter="12").json()["code"] == "51"


def test_invalid_number_reported_status_3(sim):
    jobid = send(sim, [{"msg": "x", "no": "123"}]).json()["jobid"]
    report = httpx.post(f"{sim.base_url}/sms/rest/v2/report", json={"jobids": [jobid]}, auth=AUTH).json()
    assert report["jobs"][0]["status"] == 3


def test_duplicate_limit_85(sim):
    codes = [send(sim, [{"msg": f"m{n}", "no": "5321234567"}]).json()["code"] for n in range(21)]
    assert codes[:20] == ["00"] * 20 and codes[20] == "85"


def test_rate_limit_code_80(sim):
    sim.set_rate_limit(rate=0.01, burst=1)
    assert send(sim).json()["code"] == "00"
    resp = send(sim)
    assert resp.status_code == 406 and resp.json()["code"] == "80"


def test_report_limit_10_per_minute(sim):
    codes = [httpx.post(f"{sim.base_url}/sms/rest/v2/report", json={}, auth=AUTH).json()["code"] for _ in range(11)]
    assert codes[:10] == ["60"] * 10 and codes[10] == "80"


def test_cancel_and_headers(sim):
    sim.set_speed(1)  # delivery takes 2 real seconds: time to cancel
    jobid = send(sim).json()["jobid"]
    assert httpx.post(f"{sim.base_url}/sms/rest/v2/cancel", json={"jobid": jobid}, auth=AUTH).json()["code"] == "00"
    assert httpx.post(f"{sim.base_url}/sms/rest/v2/cancel", json={"jobid": "nope"}, auth=AUTH).json()["code"] == "60"
    assert httpx.get(f"{sim.base_url}/sms/rest/v2/msgheader", auth=AUTH).json()["msgheaders"] == ["OCBRIDGE"]


def voice_xml(url="", numbers=("5321234567",), key="1", user="8503000000", password="netgsm-secret"):
    nos = "".join(f"<no>{n}</no>" for n in numbers)
    keys = ("<keys><keydetail><keyinfo>1</keyinfo><text>Onaylandı</text></keydetail></keys>"
            "<keys><keydetail><keyinfo>2</keyinfo><text>İptal edildi</text></keydetail></keys>") if key == "1" else ""
    return (f"<?xml version='1.0'?><mainbody><header><usercode>{user}</usercode><password>{password}</password>"
            f"<startdate></startdate><starttime></starttime><stopdate></stopdate><stoptime></stoptime>"
            f"<key>{key}</key><ringtime>30</ringtime><url>{url}</url></header>"
            f"<body><text>Sipariş 1042 için onay 1, iptal 2</text>{nos}{keys}</body></mainbody>").encode()


@pytest.mark.parametrize("outcome,state,push", [("confirm", 1, "1"), ("cancel", 1, "2"), ("timeout", 1, "-1"),
                                                ("hangup", 1, None), ("no_answer", 2, None), ("busy", 7, None)])
def test_voice_sms_webhook_and_report(sim, receiver, outcome, state, push):
    sim.set_customer("5321234567", call=outcome)
    resp = httpx.post(f"{sim.base_url}/voicesms/send", content=voice_xml(f"{receiver.url}/voice"),
                      headers={"Content-Type": "text/xml"})
    code, bulkid = resp.text.split()
    assert code == "00"
    [body] = [b for b in (receiver.wait(1, "/voice") and receiver.json_bodies("/voice"))]
    assert (body["bulkid"], body["callee"], body["state"], body["detail"]["push_button"]) == (bulkid, "5321234567", state, push)
    report = httpx.get(f"{sim.base_url}/voicesms/report/", params={"usercode": AUTH[0], "password": AUTH[1],
                                                                     "bulkid": bulkid, "type": 0})
    row = report.text.split(" ")
    assert row[:3] == [bulkid, "5321234567", str(state)]


@pytest.mark.parametrize("xml,code", [(b"<nope", "70"), (voice_xml(password="x"), "30"), (voice_xml(numbers=()), "45")])
def test_voice_send_errors(sim, xml, code):
    assert httpx.post(f"{sim.base_url}/voicesms/send", content=xml).text == code


def test_voice_report_limit_and_cancel(sim):
    sim.set_customer("5321234567", answer_delay=10_000)
    bulkid = httpx.post(f"{sim.base_url}/voicesms/send", content=voice_xml()).text.split()[1]
    params = {"usercode": AUTH[0], "password": AUTH[1], "bulkid": bulkid}
    assert httpx.get(f"{sim.base_url}/voicesms/edit", params=params).json()["code"] == "00"
    texts = [httpx.get(f"{sim.base_url}/voicesms/report/", params=params).text for _ in range(3)]
    assert texts[0] == f"{bulkid} 5321234567 5" and texts[2] == "80"


def test_garbage_and_timeout_faults(sim):
    sim.fail_next("garbage", path="/sms/rest/v2/send")
    with pytest.raises(ValueError):
        send(sim).json()
    sim.fail_next("timeout", seconds=0.3)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sim.base_url}/sms/rest/v2/send", json={}, auth=AUTH, timeout=0.1)
