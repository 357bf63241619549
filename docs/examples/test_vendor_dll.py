"""How a vendor's own pytest suite uses rasemu (the plugin loads itself once rasemu is installed).

Run: python -m pytest docs/examples/test_vendor_dll.py
(the marker names the DLL; without it, --rasemu-dll PATH or the ini option rasemu_dll does)
"""

import pytest

pytestmark = pytest.mark.rasemu(dll="pool_standin.py", profile="win2008-x64")


def test_two_users_get_different_addresses(ras_host, assert_conformant):
    alice = ras_host.connect("alice", "VPN1-0")
    bob = ras_host.connect("bob", "VPN1-1")
    assert alice.address != bob.address
    ras_host.disconnect(alice)
    ras_host.disconnect(bob)
    assert_conformant(ras_host)  # stops the host; fails with rule ids if there are error findings


def test_many_users_at_once(ras_host, assert_conformant):
    # connect_many/disconnect_many batch the IP DLL's calls (one round trip to the child
    # process per 256 calls); the findings are those of connect/disconnect one by one
    users = ras_host.connect_many([(f"user{i}", f"VPN1-{i}") for i in range(30)])
    assert all(s.state == "connected" for s in users)
    assert len({s.address for s in users}) == 30  # unique while connected (R63)
    ras_host.disconnect_many(users)
    assert_conformant(ras_host)


def test_single_callback(admin_dll):
    from emulator.abi.addresses import dword_to_ip
    from emulator.loaders.base import Call

    # args follow emulator.abi.callbacks: in/out DWORDs go in as ints (0 = no proposal; the
    # host pre-fills bNotifyRelease with the sentinel 0xA5A5A5A5, R78)
    result = admin_dll.handle_call(
        Call("MprAdminGetIpAddressForUser", ("alice", "VPN1-0", 0, 0xA5A5A5A5))
    )
    assert result.fault is None and result.returned == 0  # NO_ERROR
    assert dword_to_ip(result.outputs[2]) == "10.8.0.10"  # *lpdwIpAddress
    assert result.outputs[3] == 1  # *bNotifyRelease = TRUE (R61)
