//! 검사결과지: a hospital laboratory report: patient and specimen boxes, then one table
//! per panel (검사항목, 결과, 단위, 참고치, 판정) and the reporting physician.

use chrono::Duration;

use super::labs::{self, LabStyle};
use super::{people, recent_date, Draft};
use crate::dataset::synth::rng::Rng;

/// Panel sets ordered together, by clinical context (indices into `labs::PANELS`).
const ORDERS: &[&[usize]] = &[
    &[0, 1, 2],       // 건강검진: CBC, chemistry, lipid
    &[0, 1, 2, 3],    // 당뇨 추적: + HbA1c
    &[0, 1, 4],       // 갑상선
    &[0, 1, 5, 6],    // 응급실 흉통: + coagulation, cardiac markers
    &[0, 1, 7],       // 요로감염: + urinalysis
    &[1, 2, 3],       // 만성질환 외래
    &[0, 1, 2, 3, 4], // 종합검진
];

const SPECIMENS: &[&str] = &[
    "혈액(EDTA 전혈), 혈청",
    "전혈, 혈청",
    "혈청, 소변",
    "Whole blood, Serum",
];

pub(super) fn build(d: &mut Draft, rng: &mut Rng) {
    let order = rng.pick(ORDERS);
    let reported = recent_date(rng);
    let collected = reported - Duration::days(rng.range(0, 2));
    let patient = people::patient(rng, reported, 18, 88);
    let hospital = people::institution(rng, false);
    let department = rng.pick(&[
        "내과",
        "가정의학과",
        "건강증진센터",
        "응급의학과",
        "내분비내과",
    ]);
    let physician = people::doctor(rng, "진단검사의학과");
    let orderer = people::doctor(rng, department);
    let style = LabStyle::draw(rng);
    // Clinics that order many panels see more sick patients.
    let abnormal = rng.uniform(0.05, 0.25);

    d.meta(&[hospital.name.as_str(), "진단검사의학과"]);
    d.title(
        if rng.chance(0.5) {
            "검사결과지"
        } else {
            "진단검사 결과보고서"
        },
        rng.chance(0.4),
    );
    d.fields.patient_name = Some(patient.name.clone());
    let collected_text = d.date("collected", collected);
    let reported_text = d.date("reported", reported);
    d.fields.dates.insert(
        "issued".to_string(),
        crate::dataset::synth::dates::iso(reported),
    );
    let time = |rng: &mut Rng| format!("{:02}:{:02}", rng.range(7, 17), rng.range(0, 59));
    d.field(&["환자명", &patient.name, "등록번호", &patient.chart_no]);
    d.field(&[
        "성별/나이",
        &patient.sex_age(reported),
        "진료과",
        department,
    ]);
    d.field(&["의뢰의", &orderer.name, "검체", rng.pick(SPECIMENS)]);
    let t1 = time(rng);
    let t2 = time(rng);
    d.field(&[
        "채취일시",
        &format!("{collected_text} {t1}"),
        "보고일시",
        &format!("{reported_text} {t2}"),
    ]);

    let header: &[&str] = if rng.chance(0.5) {
        &["검사항목", "결과", "단위", "참고치", "판정"]
    } else {
        &["검사명", "결과치", "단위", "참고범위", "H/L"]
    };
    for &p in order {
        let panel = &labs::PANELS[p];
        d.heading(panel.title);
        d.table_header(header);
        for test in panel.tests {
            let row = labs::result(rng, test, patient.sex, style, abnormal);
            d.row(vec![
                row.item.clone(),
                row.value.clone(),
                row.unit.clone().unwrap_or_default(),
                row.reference_range.clone().unwrap_or_default(),
                row.flag.clone().unwrap_or_default(),
            ]);
            d.fields.labs.push(row);
        }
    }

    d.meta(&[
        "* H: 참고치보다 높음, L: 참고치보다 낮음. 참고치는 성별과 연령에 따라 다를 수 있습니다.",
    ]);
    if rng.chance(0.6) {
        d.meta(&["* 결과 해석은 담당 의사와 상담하시기 바랍니다."]);
    }
    d.signature(&[
        &format!("보고일: {reported_text}"),
        &format!("판독의: {} (전문의)", physician.name),
    ]);
    d.meta(&[
        &format!("{} {}", hospital.name, hospital.address),
        &format!("전화 {}", hospital.phone),
    ]);
}
