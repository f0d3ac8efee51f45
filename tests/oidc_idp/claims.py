"""What the test provider says about a person: preferred_username is the account's username,
and an `employee` scope adds `employee_id` (kept in the account's last_name), the way a company
adds its HR number to Keycloak or Entra ID."""

from oidc_provider.lib.claims import ScopeClaims


def userinfo(claims, user):
    claims["preferred_username"] = user.username
    claims["email"] = user.email
    claims["name"] = user.first_name
    return claims


class EmployeeClaims(ScopeClaims):
    info_employee = ("Employee number", "Your HR employee number.")

    def scope_employee(self):
        return {"employee_id": self.user.last_name}


def id_token_hook(id_token, **kwargs):
    """Leave `employee_id` to the userinfo endpoint, as AD FS and some Keycloak mappers do:
    the messenger must fetch it from there."""
    id_token.pop("employee_id", None)
    return id_token
