//! 처방전: the standard outpatient prescription form (의료법 시행규칙 별지 제9호서식):
//! patient and prescriber boxes, 질병분류기호, the drug table, 사용기간 and the
//! pharmacy's 조제내역 boxes.

use super::drugs::{self, Class, PrintStyle};
use super::{kcd, people, recent_date, Draft};
use crate::dataset::synth::rng::Rng;

/// An outpatient visit type: department, likely diagnoses, and the drug classes given.
struct Visit {
    department: &'static str,
    /// Patient age range (chronic diseases are not drawn for children).
    ages: (i32, i32),
    codes: &'static [&'static str],
    /// Always prescribed.
    core: &'static [Class],
    /// Each added with probability one half.
    optional: &'static [Class],
}

const VISITS: &[Visit] = &[
    Visit {
        department: "내과",
        ages: (38, 88),
        codes: &["I10", "E11.9", "E78.5"],
        core: &[Class::BloodPressure],
        optional: &[
            Class::Statin,
            Class::Diabetes,
            Class::Antiplatelet,
            Class::Diabetes,
        ],
    },
    Visit {
        department: "내분비내과",
        ages: (35, 85),
        codes: &["E11.9", "E78.5", "I10"],
        core: &[Class::Diabetes, Class::Diabetes],
        optional: &[Class::Statin, Class::BloodPressure],
    },
    Visit {
        department: "이비인후과",
        ages: (3, 80),
        codes: &["J06.9", "J01.9", "J02.9", "J30.4"],
        core: &[Class::Antibiotic, Class::Analgesic],
        optional: &[
            Class::Mucolytic,
            Class::Antihistamine,
            Class::Antitussive,
            Class::GiProtect,
        ],
    },
    Visit {
        department: "가정의학과",
        ages: (15, 85),
        codes: &["J20.9", "J06.9", "J11.1"],
        core: &[Class::Antitussive, Class::Mucolytic],
        optional: &[Class::Antibiotic, Class::Analgesic, Class::Antihistamine],
    },
    Visit {
        department: "정형외과",
        ages: (20, 88),
        codes: &["M54.5", "M17.1", "M51.2", "M75.1", "S93.4", "M79.1"],
        core: &[Class::Nsaid, Class::GiProtect],
        optional: &[Class::MuscleRelaxant, Class::Analgesic],
    },
    Visit {
        department: "소화기내과",
        ages: (20, 85),
        codes: &["K21.9", "K29.7", "K30", "K59.0"],
        core: &[Class::Ppi],
        optional: &[Class::Prokinetic, Class::GiProtect, Class::Laxative],
    },
    Visit {
        department: "비뇨의학과",
        ages: (20, 88),
        codes: &["N39.0", "N40"],
        core: &[Class::Antibiotic],
        optional: &[Class::Urology, Class::Analgesic],
    },
    Visit {
        department: "정신건강의학과",
        ages: (18, 80),
        codes: &["F32.9", "F41.9", "G47.0"],
        core: &[Class::Antidepressant],
        optional: &[Class::Anxiolytic, Class::Hypnotic],
    },
    Visit {
        department: "내과",
        ages: (25, 80),
        codes: &["E03.9"],
        core: &[Class::Thyroid],
        optional: &[Class::Statin],
    },
    Visit {
        department: "류마티스내과",
        ages: (30, 85),
        codes: &["M10.9"],
        core: &[Class::Gout, Class::Nsaid],
        optional: &[Class::Ppi, Class::Steroid],
    },
    Visit {
        department: "피부과",
        ages: (30, 88),
        codes: &["B02.9"],
        core: &[Class::Antiviral, Class::Analgesic],
        optional: &[Class::Neuropathic, Class::GiProtect],
    },
];

const INSURANCE: [&str; 5] = ["건강보험", "의료급여", "산업재해보험", "자동차보험", "기타"];

pub(super) fn build(d: &mut Draft, rng: &mut Rng) {
    let visit = rng.choose(VISITS);
    let issued = recent_date(rng);
    let patient = people::patient(rng, issued, visit.ages.0, visit.ages.1);
    let small = rng.chance(0.7);
    let clinic = people::institution(rng, small);
    let doctor = people::doctor(rng, visit.department);
    let style = PrintStyle::draw(rng);

    // Diagnoses: one to three codes of the visit type, in list order.
    let n_codes = 1 + rng.below(visit.codes.len().min(3));
    let codes: Vec<&str> = rng
        .sample(visit.codes, n_codes)
        .into_iter()
        .copied()
        .collect();
    let mut classes: Vec<Class> = visit.core.to_vec();
    for c in visit.optional {
        if rng.chance(0.5) {
            classes.push(*c);
        }
    }
    let days = (!visit.core.iter().any(|c| {
        matches!(
            c,
            Class::BloodPressure | Class::Diabetes | Class::Thyroid | Class::Antidepressant
        )
    }))
    .then(|| rng.pick(&[3u32, 3, 5, 7, 7, 14]));
    let drugs = drugs::prescribe_all(rng, &classes, style, days);

    d.meta(&["의료법 시행규칙 [별지 제9호서식]"]);
    d.title("처방전", true);
    // Most prescriptions are 건강보험.
    let insured = if rng.chance(0.85) {
        0
    } else {
        rng.below(INSURANCE.len())
    };
    let boxes: Vec<String> = INSURANCE
        .iter()
        .enumerate()
        .map(|(i, k)| format!("[{}]{k}", if i == insured { "V" } else { " " }))
        .collect();
    d.meta(&[&boxes.join(" ")]);
    let number = format!("제 {:05} 호", rng.range(1, 99_999));
    let issued_text = d.date("issued", issued);
    d.meta(&[
        &format!("요양기관기호: {}", clinic.code),
        &format!("교부번호: {issued_text} - {number}"),
    ]);

    d.fields.patient_name = Some(patient.name.clone());
    let rrn = patient.masked_rrn(rng);
    d.field(&["환자 성명", &patient.name, "의료기관 명칭", &clinic.name]);
    d.field(&["주민등록번호", &rrn, "전화번호", &clinic.phone]);
    d.field(&["질병분류기호", &codes.join(" "), "팩스번호", &clinic.fax]);
    d.field(&[
        "처방 의료인의 성명",
        &format!("{} (서명 또는 날인)", doctor.name),
        "면허종류",
        "의사",
    ]);
    d.field(&[
        "진료과목",
        doctor.department,
        "면허번호",
        &format!("제 {} 호", doctor.license),
    ]);
    d.fields.diagnosis_codes = codes.iter().map(|c| c.to_string()).collect();

    if rng.chance(0.5) {
        // Some clinics print the diagnosis names under the codes.
        for c in &codes {
            let k = kcd::get(c);
            d.meta(&[&format!("{} {}", k.code, k.name)]);
        }
    }

    d.drug_table(&drugs::TABLE_HEADER, drugs);
    d.meta(&["주사제 처방내역 (원내조제 [ ], 원외처방 [ ])", "해당 없음"]);
    let valid = rng.pick(&[3, 7, 7, 7, 14]);
    d.field(&[
        "사용기간",
        &format!("교부일부터 {valid}일간"),
        "조제시 참고사항",
        "",
    ]);
    d.meta(&["사용기간 내에 약국에 제출하여야 합니다."]);

    d.heading("의약품 조제내역");
    d.field(&["조제기관의 명칭", "", "조제약사 성명", ""]);
    d.field(&["조제량(조제일수)", "", "조제연월일", ""]);
    d.meta(&[
        &format!("환자 연락처: {}", patient.phone),
        &format!("진료일: {issued_text}"),
    ]);
}
