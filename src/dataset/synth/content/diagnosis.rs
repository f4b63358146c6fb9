//! 진단서: the medical certificate (의료법 시행규칙 별지 제5호서식): patient boxes, 병명
//! with KCD codes, 발병일 / 진단일, the physician's opinion on treatment (prose), 용도,
//! and the issuing institution and physician.

use chrono::{Duration, NaiveDate};

use super::{fill, josa, kcd, people, recent_date, Draft};
use crate::dataset::synth::dates::DateFormat;
use crate::dataset::synth::rng::Rng;

/// A condition a certificate is written for, with the words its opinion is made of.
struct Case {
    code: &'static str,
    secondary: &'static [&'static str],
    department: &'static str,
    symptom: &'static str,
    exam: &'static str,
    treatment: &'static str,
    status: &'static str,
    future: &'static str,
    weeks: (i64, i64),
    admitted: bool,
    /// Patient age range.
    ages: (i32, i32),
}

const CASES: &[Case] = &[
    Case {
        code: "M54.5",
        secondary: &["M51.2", "M79.1"],
        department: "정형외과",
        symptom: "허리 통증",
        exam: "요추 단순방사선 검사",
        treatment: "약물치료 및 물리치료",
        status: "통증은 다소 호전되었으나 장시간 앉아 있거나 서 있을 때 통증이 지속되는",
        future: "약물치료 및 물리치료",
        weeks: (2, 4),
        admitted: false,
        ages: (25, 80),
    },
    Case {
        code: "S93.4",
        secondary: &[],
        department: "정형외과",
        symptom: "넘어진 후 발생한 좌측 발목 통증 및 부종",
        exam: "족관절 단순방사선 검사",
        treatment: "반깁스 고정 및 약물치료",
        status: "부종은 감소하였으나 체중 부하 시 통증이 남아 있는",
        future: "보존적 치료 및 재활치료",
        weeks: (3, 6),
        admitted: false,
        ages: (12, 70),
    },
    Case {
        code: "M51.2",
        secondary: &["M54.5"],
        department: "신경외과",
        symptom: "허리 통증 및 좌측 하지 방사통",
        exam: "요추 자기공명영상(MRI) 검사",
        treatment: "약물치료, 물리치료 및 신경차단술",
        status: "하지 방사통은 호전 추세이나 요통이 지속되는",
        future: "약물치료 및 주사치료, 도수치료",
        weeks: (4, 8),
        admitted: false,
        ages: (25, 70),
    },
    Case {
        code: "J18.9",
        secondary: &["I10", "E11.9"],
        department: "호흡기내과",
        symptom: "발열, 기침 및 가래",
        exam: "흉부 단순방사선 검사 및 혈액검사",
        treatment: "입원하여 정맥 항생제 치료",
        status: "발열은 소실되었고 염증 수치가 호전된",
        future: "경구 항생제 복용 및 외래 추적관찰",
        weeks: (1, 3),
        admitted: true,
        ages: (20, 90),
    },
    Case {
        code: "I10",
        secondary: &["E78.5", "E11.9"],
        department: "내과",
        symptom: "두통 및 혈압 상승",
        exam: "혈압 측정, 혈액검사 및 심전도 검사",
        treatment: "항고혈압제 약물치료",
        status: "혈압이 비교적 안정적으로 조절되고 있는",
        future: "지속적인 약물치료와 정기적인 외래 추적관찰",
        weeks: (12, 24),
        admitted: false,
        ages: (40, 85),
    },
    Case {
        code: "E11.9",
        secondary: &["I10", "E78.5"],
        department: "내분비내과",
        symptom: "다음, 다뇨 및 체중 감소",
        exam: "공복혈당 및 당화혈색소 검사",
        treatment: "경구 혈당강하제 약물치료 및 식이요법 교육",
        status: "혈당이 조절되고 있는",
        future: "지속적인 약물치료, 생활습관 교정 및 정기적인 혈액검사",
        weeks: (12, 24),
        admitted: false,
        ages: (35, 85),
    },
    Case {
        code: "K35.8",
        secondary: &[],
        department: "외과",
        symptom: "우하복부 통증 및 구토",
        exam: "복부 전산화단층촬영(CT) 검사",
        treatment: "입원하여 복강경 충수절제술",
        status: "수술 부위가 양호하게 회복 중인",
        future: "외래 추적관찰 및 안정 가료",
        weeks: (2, 4),
        admitted: true,
        ages: (10, 70),
    },
    Case {
        code: "S72.0",
        secondary: &["M81.0", "I10"],
        department: "정형외과",
        symptom: "낙상 후 발생한 우측 고관절 통증 및 보행 불가",
        exam: "고관절 단순방사선 및 CT 검사",
        treatment: "입원하여 인공 고관절 반치환술",
        status: "보행 보조기를 이용하여 보행이 가능한",
        future: "재활치료 및 외래 추적관찰",
        weeks: (8, 12),
        admitted: true,
        ages: (65, 92),
    },
    Case {
        code: "M17.1",
        secondary: &["M79.1"],
        department: "정형외과",
        symptom: "양측 무릎 통증",
        exam: "무릎 단순방사선 검사",
        treatment: "약물치료 및 관절강내 주사치료",
        status: "계단 보행 시 통증이 지속되는",
        future: "약물치료, 주사치료 및 운동치료",
        weeks: (4, 8),
        admitted: false,
        ages: (50, 85),
    },
    Case {
        code: "B02.9",
        secondary: &[],
        department: "피부과",
        symptom: "좌측 흉부의 수포를 동반한 통증",
        exam: "진찰 및 임상 소견",
        treatment: "항바이러스제 및 진통제 약물치료",
        status: "수포는 가피화되었으나 신경통이 남아 있는",
        future: "약물치료 및 통증 조절",
        weeks: (2, 4),
        admitted: false,
        ages: (40, 85),
    },
    Case {
        code: "I63.9",
        secondary: &["I10", "E78.5", "I48.9"],
        department: "신경과",
        symptom: "우측 상하지 위약감 및 구음장애",
        exam: "뇌 자기공명영상(MRI) 검사",
        treatment: "입원하여 항혈소판제 치료 및 재활치료",
        status: "위약감이 일부 호전되었으나 일상생활에 부분적인 도움이 필요한",
        future: "지속적인 약물치료 및 재활치료",
        weeks: (12, 24),
        admitted: true,
        ages: (50, 90),
    },
    Case {
        code: "F32.9",
        secondary: &["G47.0", "F41.9"],
        department: "정신건강의학과",
        symptom: "우울감, 불면 및 의욕 저하",
        exam: "정신건강의학적 면담 및 심리검사",
        treatment: "항우울제 약물치료 및 상담치료",
        status: "증상이 부분적으로 호전된",
        future: "지속적인 약물치료 및 정기적인 면담",
        weeks: (8, 24),
        admitted: false,
        ages: (18, 75),
    },
];

const PURPOSES: &[&str] = &[
    "보험회사 제출용",
    "회사 제출용",
    "학교 제출용",
    "관공서 제출용",
    "본인 보관용",
];

/// What a certificate draws before anything is written: the case, who and when.
struct Certificate {
    case: &'static Case,
    issued: NaiveDate,
    patient: people::Person,
    hospital: people::Institution,
    doctor: people::Doctor,
    /// Nights in hospital (0 for outpatient cases).
    stay: i64,
    diagnosed: NaiveDate,
    onset: NaiveDate,
    main: kcd::Kcd,
    secondary: Vec<kcd::Kcd>,
}

impl Certificate {
    fn draw(rng: &mut Rng) -> Certificate {
        let case = rng.choose(CASES);
        let issued = recent_date(rng);
        let patient = people::patient(rng, issued, case.ages.0, case.ages.1);
        let clinic = rng.chance(0.4) && !case.admitted;
        let hospital = people::institution(rng, clinic);
        let doctor = people::doctor(rng, case.department);

        // Timeline: onset, then diagnosis, then (for admissions) the stay, then the certificate.
        let stay = if case.admitted { rng.range(4, 14) } else { 0 };
        let diagnosed = issued - Duration::days(stay + rng.range(0, 20));
        let onset = diagnosed - Duration::days(rng.range(0, 10));
        let main = kcd::get(case.code);
        let n_secondary = rng.below(case.secondary.len() + 1);
        let secondary: Vec<_> = rng
            .sample(case.secondary, n_secondary)
            .into_iter()
            .map(|c| kcd::get(c))
            .collect();
        Certificate {
            case,
            issued,
            patient,
            hospital,
            doctor,
            stay,
            diagnosed,
            onset,
            main,
            secondary,
        }
    }
}

pub(super) fn build(d: &mut Draft, rng: &mut Rng) {
    let c = Certificate::draw(rng);
    patient_boxes(d, rng, &c);
    let diagnosed_text = diagnosis_boxes(d, rng, &c);
    d.heading("치료 내용 및 향후 치료에 대한 소견");
    opinion(d, rng, &c);
    let period = if c.case.admitted {
        let admission = c.issued - Duration::days(c.stay + rng.range(0, 3));
        let discharge = admission + Duration::days(c.stay);
        let a = d.date("admission", admission);
        let b = d.date("discharge", discharge);
        format!("입원 {a}부터 {b}까지 ({}일간)", c.stay + 1)
    } else {
        format!("외래 {diagnosed_text}부터 현재까지")
    };
    d.field(&["입원·외래 일자", &period]);
    d.field(&["용도", rng.pick(PURPOSES), "비고", ""]);
    d.meta(&["의료법 제17조 및 같은 법 시행규칙 제9조제1항에 따라 위와 같이 진단합니다."]);
    issuer(d, rng, &c);
}

/// The form's heading, title, serial number and the patient's boxes.
fn patient_boxes(d: &mut Draft, rng: &mut Rng, c: &Certificate) {
    let patient = &c.patient;
    d.meta(&["의료법 시행규칙 [별지 제5호서식]"]);
    d.title("진단서", true);
    let serial = format!(
        "연번호: {}-{:05}",
        c.issued.format("%Y"),
        rng.range(1, 99_999)
    );
    d.meta(&[&format!("등록번호: {}", patient.chart_no), &serial]);
    d.fields.patient_name = Some(patient.name.clone());
    let rrn = patient.masked_rrn(rng);
    d.field(&["환자의 성명", &patient.name, "주민등록번호", &rrn]);
    d.field(&["환자의 주소", &patient.address]);
    d.field(&[
        "전화번호",
        &patient.phone,
        "성별/나이",
        &patient.sex_age(c.issued),
    ]);
}

/// 병명 with its KCD codes, onset and diagnosis dates. Returns the printed diagnosis date.
fn diagnosis_boxes(d: &mut Draft, rng: &mut Rng, c: &Certificate) -> String {
    let final_dx = rng.chance(0.7);
    let kind = if final_dx {
        "[ ] 임상적 추정 [V] 최종 진단"
    } else {
        "[V] 임상적 추정 [ ] 최종 진단"
    };
    d.field(&["병명", kind]);
    d.field(&["주상병", &format!("{} {}", c.main.code, c.main.name)]);
    for s in &c.secondary {
        d.field(&["부상병", &format!("{} {}", s.code, s.name)]);
    }
    let mut codes = vec![c.main.code.to_string()];
    codes.extend(c.secondary.iter().map(|s| s.code.to_string()));
    d.field(&["한국표준질병·사인분류", &codes.join(", ")]);
    d.fields.diagnosis_codes = codes;
    let onset_text = d.date("onset", c.onset);
    let diagnosed_text = d.date("diagnosis", c.diagnosed);
    d.field(&["발병일", &onset_text, "진단일", &diagnosed_text]);
    diagnosed_text
}

/// The physician's opinion on treatment: one paragraph, or one line per sentence.
fn opinion(d: &mut Draft, rng: &mut Rng, c: &Certificate) {
    let case = c.case;
    let weeks = rng.range(case.weeks.0, case.weeks.1);
    let vars = [
        ("onset", DateFormat::Korean.format(c.onset)),
        ("symptom", josa(case.symptom, "으로", "로")),
        ("dept", case.department.to_string()),
        ("exam", case.exam.to_string()),
        ("treatment", josa(case.treatment, "을", "를")),
        ("status", case.status.to_string()),
        ("future", josa(case.future, "이", "가")),
        ("weeks", weeks.to_string()),
        ("dx", josa(c.main.name, "으로", "로")),
    ];
    let mut opinion = vec![fill(
        rng.pick(&[
            "상기 환자는 {onset}경 발생한 {symptom} 본원 {dept}에 내원하여 시행한 {exam} 결과 상기 진단 하에 {treatment} 시행 받았음.",
            "상기인은 {symptom} 본원에 내원하였으며 {exam} 등을 시행한 결과 {dx} 진단되어 {treatment} 받았음.",
        ]),
        &vars,
    )];
    opinion.push(fill("현재 {status} 상태임.", &vars));
    opinion.push(fill(
        rng.pick(&[
            "향후 약 {weeks}주간의 {future} 필요할 것으로 사료되며, 경과에 따라 치료 기간은 변동될 수 있음.",
            "향후 {weeks}주 이상의 {future} 요할 것으로 판단됨. 단, 환자의 상태에 따라 추가적인 치료가 필요할 수 있음.",
        ]),
        &vars,
    ));
    if rng.chance(0.5) {
        opinion.push("상기 소견은 진료 당시의 임상 소견 및 검사 결과에 근거함.".to_string());
    }
    if rng.chance(0.5) {
        d.body(opinion.join(" "));
    } else {
        for o in opinion {
            d.body(o);
        }
    }
}

/// The issue date, the institution's boxes and the physician's signature.
fn issuer(d: &mut Draft, rng: &mut Rng, c: &Certificate) {
    // The issue date on certificates is usually spelled out in Korean.
    let issued_text = if rng.chance(0.6) {
        d.fields.dates.insert(
            "issued".to_string(),
            crate::dataset::synth::dates::iso(c.issued),
        );
        DateFormat::Korean.format(c.issued)
    } else {
        d.date("issued", c.issued)
    };
    d.signature(&[&format!("발행일: {issued_text}")]);
    let hospital = &c.hospital;
    d.field(&[
        "의료기관 명칭",
        &hospital.name,
        "요양기관기호",
        &hospital.code,
    ]);
    d.field(&["주소", &hospital.address]);
    d.field(&["전화번호", &hospital.phone, "팩스번호", &hospital.fax]);
    d.signature(&[
        &format!("면허번호: 제 {} 호", c.doctor.license),
        &format!("의사 성명: {} (서명 또는 인)", c.doctor.name),
    ]);
}
