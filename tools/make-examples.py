#!/usr/bin/env python3
"""Write the small synthetic JP-CLINS submissions shipped in examples/.

Everything here is invented for clins-hub (no real patient, no copied example): a patient of a
fictional clinic, ten 傷病名, two アレルギー, and a Patient-only bundle that deletes a unit. The
structure follows the JP-CLINS 1.5 rules (JP_Bundle_CLINS, contained Encounter, institution
number and department extensions). Deterministic: run it again and the files do not change.

    python3 tools/make-examples.py [OUT_DIR]     (default: <repo>/examples)
"""
import json
import os
import sys
import uuid

INSTITUTION = "1311234567"  # 13 東京都, 1 医科, 1234567
INSURANCE_ID = "06139999:ひかり:１２３４:01"
NS = uuid.UUID("6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c")


def uid(name):
    return "urn:uuid:" + str(uuid.uuid5(NS, name))


def patient():
    return {
        "resourceType": "Patient",
        "meta": {
            "lastUpdated": "2026-11-20T09:30:00+09:00",
            "profile": ["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS|1"],
        },
        "extension": [institution_ext()],
        "identifier": [
            {
                "system": "urn:oid:1.2.392.100495.20.3.51.1" + INSTITUTION,
                "value": "00042017",
            },
            {
                "system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID",
                "value": INSURANCE_ID,
            },
        ],
        "name": [
            {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                        "valueCode": "IDE",
                    }
                ],
                "use": "official",
                "text": "架空 花子",
                "family": "架空",
                "given": ["花子"],
            },
            {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                        "valueCode": "SYL",
                    }
                ],
                "use": "official",
                "text": "カクウ ハナコ",
                "family": "カクウ",
                "given": ["ハナコ"],
            },
        ],
        "gender": "female",
        "birthDate": "1958-03-14",
        "address": [{"text": "東京都千代田区架空町1-2-3", "city": "千代田区", "state": "東京都"}],
    }


def institution_ext():
    return {
        "url": "http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber",
        "valueIdentifier": {
            "system": "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no",
            "value": INSTITUTION,
        },
    }


def department_ext(code, name):
    return {
        "url": "http://jpfhir.jp/fhir/eCS/Extension/StructureDefinition/JP_eCS_Department",
        "valueCodeableConcept": {
            "coding": [
                {"system": "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment", "code": code, "display": name}
            ]
        },
    }


def encounter(eid, cls):
    return {
        "resourceType": "Encounter",
        "id": eid,
        "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Encounter"]},
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": cls,
            "display": "外来" if cls == "AMB" else "入院",
        },
    }


# (MEDIS 病名管理番号 as an 8-digit number, display, text, ICD-10, onset, status, abatement)
CONDITIONS = [
    ("20051234", "2型糖尿病", "2型糖尿病", "E11", "2015-06-02", "active", None),
    ("20052345", "本態性高血圧症", "本態性高血圧症", "I10", "2012-09-18", "active", None),
    ("20053456", "脂質異常症", "脂質異常症", "E785", "2016-01-20", "active", None),
    ("20054567", "慢性腎臓病", "慢性腎臓病 ステージG3a", "N183", "2021-04-07", "active", None),
    ("20055678", "逆流性食道炎", "逆流性食道炎", "K210", "2023-02-15", "remission", "2024-05-10"),
    ("20056789", "急性気管支炎", "急性気管支炎", "J209", "2025-12-01", "resolved", "2025-12-20"),
    ("20057890", "骨粗鬆症", "骨粗鬆症", "M819", "2019-11-11", "active", None),
    ("20058901", "白内障", "白内障（両眼）", "H269", "2022-08-30", "active", None),
    ("20059012", "腰部脊柱管狭窄症", "腰部脊柱管狭窄症", "M4806", "2020-03-03", "active", None),
    ("20060123", "不眠症", "不眠症", "G470", "2024-10-22", "inactive", "2025-04-01"),
]


def condition(i, row, patient_url):
    code, display, text, icd, onset, status, abatement = row
    enc_id = "enc%d" % i
    res = {
        "resourceType": "Condition",
        "meta": {
            "lastUpdated": "2026-11-20T09:30:00+09:00",
            "profile": ["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Condition_eCS|1"],
        },
        "contained": [encounter(enc_id, "AMB")],
        "extension": [institution_ext(), department_ext("01", "内科")],
        "identifier": [
            {
                "system": "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier",
                "value": "%s-cond-%04d" % (INSTITUTION, i + 1),
            }
        ],
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "encounter-diagnosis",
                        "display": "Encounter Diagnosis",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": "http://medis.or.jp/CodeSystem/master-disease-keyNumber", "code": code, "display": display},
                {"system": "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full", "code": icd, "display": display},
            ],
            "text": text,
        },
        "subject": {"reference": patient_url},
        "encounter": {"reference": "#" + enc_id},
        "onsetDateTime": onset,
        "recordedDate": "2026-11-20",
    }
    if abatement:
        res["abatementDateTime"] = abatement
    if i == 0:
        res["extension"].append(
            {
                "url": "http://jpfhir.jp/fhir/eCS/Extension/StructureDefinition/JP_eCS_DiagnosisType",
                "valueCodeableConcept": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype", "code": "principal"}]
                },
            }
        )
        res["meta"]["tag"] = [{"system": "http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication", "code": "LTS"}]
    return res


def allergies(patient_url):
    common_meta = {
        "lastUpdated": "2026-11-20T09:30:00+09:00",
        "profile": ["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_AllergyIntolerance_eCS|1"],
    }
    drug = {
        "resourceType": "AllergyIntolerance",
        "meta": dict(common_meta),
        "extension": [institution_ext(), department_ext("01", "内科")],
        "identifier": [
            {"system": "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier", "value": INSTITUTION + "-alg-0001"}
        ],
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}]
        },
        "category": ["medication"],
        "criticality": "high",
        "code": {
            "coding": [
                {"system": "http://jpfhir.jp/fhir/core/CodeSystem/YCM/JP_JfagyMedicationAllergen_CS", "code": "D9M000000000", "display": "ペニシリン系抗菌薬"}
            ],
            "text": "ペニシリン系抗菌薬",
        },
        "patient": {"reference": patient_url},
        "recordedDate": "2024-07-01",
    }
    food = {
        "resourceType": "AllergyIntolerance",
        "meta": dict(common_meta),
        "extension": [institution_ext()],
        "identifier": [
            {"system": "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier", "value": INSTITUTION + "-alg-0002"}
        ],
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]
        },
        "category": ["food"],
        "code": {
            "coding": [{"system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyFoodAllergen_CS", "code": "D9F000000000", "display": "そば"}],
            "text": "そば",
        },
        "patient": {"reference": patient_url},
    }
    return [drug, food]


def bundle(kind, local_id, resources):
    p_url = uid(local_id + "/patient")
    entries = [{"fullUrl": p_url, "resource": patient()}]
    for i, r in enumerate(resources(p_url)):
        entries.append({"fullUrl": uid("%s/%d" % (local_id, i)), "resource": r})
    return {
        "resourceType": "Bundle",
        "meta": {
            "lastUpdated": "2026-11-20T09:30:00+09:00",
            "profile": ["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_CLINS|1"],
            "tag": [{"system": "http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS", "code": kind}],
        },
        "identifier": {
            "system": "http://jpfhir.jp/fhir/clins/bundle-identifier",
            "value": "%s^2026^%s" % (INSTITUTION, local_id),
        },
        "type": "collection",
        "timestamp": "2026-11-20T09:30:00+09:00",
        "entry": entries,
    }


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = argv[1] if len(argv) > 1 else os.path.join(root, "examples")
    os.makedirs(out, exist_ok=True)
    files = {
        "clins-condition-bundle.json": bundle(
            "Condition", "COND-000123", lambda p: [condition(i, row, p) for i, row in enumerate(CONDITIONS)]
        ),
        "clins-allergy-bundle.json": bundle("AllergyIntolerance", "ALG-000045", allergies),
        "clins-delete-unit-bundle.json": bundle("Condition", "COND-000099", lambda p: []),
    }
    for name, doc in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)
            f.write("\n")
        print("wrote", os.path.join(out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
