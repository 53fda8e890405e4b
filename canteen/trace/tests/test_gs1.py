"""GS1 keys: check digits, the internal numbering under GS1 Prefix 04, and the URN and Digital
Link forms of one identifier read back as the same key."""

from canteen.trace import gs1


def test_check_digits_of_published_keys():
    assert gs1.is_valid_key("09506000134352", 14)  # GS1's example GTIN
    assert gs1.is_valid_key("4012345000016", 13)  # GLN of the EPCIS examples
    assert not gs1.is_valid_key("09506000134353", 14)
    assert gs1.gtin14("9506000134352") == "09506000134352"
    assert gs1.gtin14("12345") is None


def test_internal_numbers_are_prefix_04_stable_and_distinct():
    a, b = gs1.internal_gtin("product:item:producer-a"), gs1.internal_gtin("product:item:producer-b")
    assert a == gs1.internal_gtin("product:item:producer-a")
    assert a != b
    assert a.startswith("004")
    assert gs1.is_valid_key(a, 14)
    gln = gs1.internal_gln("campus:1")
    assert gln.startswith("04")
    assert gs1.is_valid_key(gln, 13)


def test_one_lot_in_every_form_is_one_key():
    gtin, lot = gs1.internal_gtin("x"), "PK-7788"
    forms = [
        gs1.lgtin(gtin, lot),
        gs1.digital_link("https://trace.example.cn", gtin, lot),
        gs1.digital_link("https://id.gs1.org", gtin, lot),
        f"https://resolver.example.com/some/prefix/01/{gtin}/10/{lot}",
    ]
    assert {(gs1.parse(f).kind, gs1.parse(f).gtin, gs1.parse(f).lot) for f in forms} == {("lot", gtin, lot)}
    assert gs1.parse(gs1.digital_link("https://t.example.cn", gtin, lot, code="ABC")).code == "ABC"
    # the standard's own examples
    assert gs1.parse("urn:epc:class:lgtin:4012345.012345.998877") == gs1.Key("lot", gtin="04012345123456", lot="998877")
    assert gs1.parse("urn:epc:id:sgtin:0614141.107346.2017").kind == "gtin"
    assert gs1.parse("urn:epc:id:sgln:0614141.07346.1234") == gs1.Key("gln", gln="0614141073467")
    assert gs1.parse("https://id.gs1.org/414/4012345000016") == gs1.Key("gln", gln="4012345000016")
    assert gs1.parse("urn:canteen:dish:x").kind == "other"
    assert gs1.parse("https://id.gs1.org/01/09506000134353/10/X").kind == "other"  # bad check digit


def test_sgln_and_pgln_split_the_company_prefix():
    gln = "6901234000016"
    assert gs1.sgln(gln, 7) == "urn:epc:id:sgln:6901234.00001.0"
    assert gs1.pgln(gln, 7) == "urn:epc:id:pgln:6901234.00001"
    assert gs1.parse(gs1.sgln(gln, 9)).gln == gln
