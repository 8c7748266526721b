"""The service under test: a client with a key per role, and the bodies a robot posts."""

LIPF6, PC, EC, DMC = "[Li+].F[P-](F)(F)(F)(F)F", "CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"
RECORD = {"components": [{"smiles": EC, "amount": 1.506}, {"smiles": LIPF6, "amount": 0.3006}], "basis": "mass",
          "temperature_K": 298.15}
CAMPAIGN = {"name": "LiPF6 in PC:EC:DMC", "space": {"salt": LIPF6, "solvents": [PC, EC, DMC], "salt_fraction": 0.08},
            "temperature_K": 303.15, "budget": 6}


class Api:
    """Requests to the app as one of the roles (``role`` names the key), or anonymously."""

    def __init__(self, client, keys, url):
        self.client, self.keys, self.url = client, keys, url

    def __call__(self, method, path, role=None, **kw):
        headers = kw.pop("headers", {})
        if role:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.request(method, path, headers=headers, **kw)


def lease(exp):
    return {"Lease-Token": exp["lease_token"]}


def result_body(exp, kappa=9.0, k_cell=1.0):
    r = 1000 * k_cell / kappa
    return {"spectrum": {"frequency_Hz": [1e5, 2e5], "z_real_ohm": [r, r], "z_imag_ohm": [-1.0, -0.5]},
            "resistance_ohm": r, "cell_constant_per_cm": k_cell, "temperature_K": 303.15, "conductivity_mS_cm": kappa,
            "method": "min-phase", "measured_composition": exp["composition"], "instrument_ids": {"potentiostat": "sim"}}
