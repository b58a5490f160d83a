"""The product document's support functions, as the reference for the
support-workflow endpoints (not a test module: run.py only collects test_*.py).

Copied verbatim from the product document ("Customer Support Workflows",
"User Analytics"); only the PDF extraction's spacing is undone
(``f 'https...'`` -> ``f'https...'``, ``device[ 'x' ]`` -> ``device['x']``).

generate_user_summary takes the already-fetched user, devices (the shape of
the document's get_user_devices() result) and buildings instead of its
(org_id, user_id, auth_token) arguments; its three fetch lines are replaced
by the parameters, the rest of its body is the document's.
"""

import datetime as _datetime_module
from datetime import datetime


# ---------------------------------------------------------------- the document

def troubleshoot_device_connection(device):
    """
    Check device connection and provide resolution steps
    """
    if not device['is_authenticated']:
        if device.get('authorization_url'):
            return {
                'issue': 'Device requires re-authentication',
                'resolution': 'User needs to reconnect device',
                'action_url': device['authorization_url'],
                'instructions': 'Send the authorization_url to the user to reconnect their device'
            }
        else:
            return {
                'issue': 'Device not authenticated',
                'resolution': 'Device may need to be re-added',
                'action': 'Consider creating a new device onboarding session'
            }

    # Check data freshness
    last_update = datetime.fromisoformat(device['current_state_last_updated_at'])
    hours_since_update = (datetime.now() - last_update).total_seconds() / 3600

    if hours_since_update > 2:
        return {
            'issue': 'Data appears stale',
            'last_update': last_update.isoformat(),
            'resolution': 'Monitor for updates or contact manufacturer API support'
        }

    return {'status': 'healthy'}


def generate_user_summary(user, devices, buildings):
    """
    Generate comprehensive user summary for support or reporting
    """
    # (the document fetches these three here: get_user, get_user_devices,
    #  get_user_buildings; they are passed in instead)

    # Calculate totals
    total_consumption_day = 0
    total_consumption_month = 0
    devices_optimized = 0

    for device_type in devices['devices'].values():
        for device in device_type:
            total_consumption_day += device.get('consumption_last_day_kwh', 0)
            total_consumption_month += device.get('consumption_last_month_kwh', 0)
            if device.get('is_smart_optimization_active'):
                devices_optimized += 1

    return {
        'user': {
            'id': user['id'],
            'email': user['email'],
            'name': f"{user.get('first_name', '')} {user.get('last_name', '')}".strip(),
            'external_id': user.get('external_user_id'),
            'location': f"{user.get('town', '')}, {user.get('country_iso2', '')}".strip(', ')
        },
        'devices': {
            'total': devices['total'],
            'optimized': devices_optimized,
            'by_type': {
                'heat_pumps': len(devices['devices']['heat_pumps']),
                'electric_vehicles': len(devices['devices']['electric_vehicles']),
                'inverters': len(devices['devices']['inverters'])
            }
        },
        'buildings': len(buildings),
        'consumption': {
            'today': round(total_consumption_day, 2),
            'this_month': round(total_consumption_month, 2)
        }
    }


# ---------------------------------------------------------------- helpers

def user_devices(heat_pumps, electric_vehicles, inverters):
    """The document's get_user_devices() result from the three fetched lists
    (its own construction: the dict in this key order, total = sum of lens)."""
    devices = {
        'heat_pumps': heat_pumps,
        'electric_vehicles': electric_vehicles,
        'inverters': inverters
    }
    total_devices = sum(len(v) for v in devices.values())
    return {
        'total': total_devices,
        'devices': devices
    }


def user_without_nulls(user):
    """The API user with its null fields left out: the document's
    user.get(k, '') defaults then apply, as for a field that is absent."""
    return {k: v for k, v in user.items() if v is not None}


class AwareUtcDatetime(datetime):
    """datetime whose now() is an aware UTC time.

    The document's troubleshoot_device_connection() subtracts the API's
    current_state_last_updated_at (RFC 3339 with "Z", which fromisoformat()
    reads as an aware UTC datetime) from datetime.now(), which is naive: Python
    refuses to subtract an aware datetime from a naive one (TypeError). The
    document evidently means "now" in the same frame, so its function is run
    with this class as its datetime: fromisoformat() and isoformat() are the
    standard ones, only now() is aware (UTC).
    """

    @classmethod
    def now(cls, tz=None):
        return _datetime_module.datetime.now(tz if tz is not None else _datetime_module.timezone.utc)


def troubleshoot_with_aware_now(device):
    """troubleshoot_device_connection(device) with datetime.now() aware (UTC);
    see AwareUtcDatetime. Not thread-safe (it swaps the module's datetime)."""
    global datetime
    saved = datetime
    datetime = AwareUtcDatetime
    try:
        return troubleshoot_device_connection(device)
    finally:
        datetime = saved
