//! 의무기록: an outpatient chart in SOAP form: patient boxes, 주소 (chief complaint),
//! 현병력, 과거력, 가족력/사회력, vital signs (`BP 130/85 mmHg`, `체온 36.8℃`), physical
//! examination, assessment with KCD codes, plan with prescriptions, and hand-written
//! follow-up notes (printed in the pen face).

use chrono::{Duration, NaiveDate};

use super::drugs::{self, Class, PrintStyle};
use super::{fill, kcd, labs, people, recent_date, Draft};
use crate::dataset::synth::rng::Rng;

/// An outpatient problem and the words its chart is written with.
struct Problem {
    department: &'static str,
    /// Patient age range.
    ages: (i32, i32),
    codes: &'static [&'static str],
    complaint: &'static [&'static str],
    history: &'static [&'static [&'static str]],
    exam: &'static [&'static str],
    meds: &'static [Class],
    plan: &'static [&'static str],
    /// Hand-written follow-up notes.
    notes: &'static [&'static str],
    /// Imaging or other test findings (one is printed under 검사 결과).
    imaging: &'static [&'static str],
}

const PROBLEMS: &[Problem] = &[
    Problem {
        department: "가정의학과",
        ages: (15, 85),
        codes: &["J20.9", "J06.9"],
        complaint: &["기침, 가래 ({days}일)", "기침 및 인후통 ({days}일)"],
        history: &[
            &["{days}일 전부터 시작된 기침과 누런 가래로 내원함.", "{days}일 전 감기 기운이 있은 후 기침이 지속되어 내원함."],
            &["밤에 기침이 심해 잠을 설친다고 하며, 미열이 있었으나 해열제 복용 후 호전됨."],
            &["호흡곤란, 흉통, 객혈은 부인함."],
        ],
        exam: &[
            "General: alert, not so ill-looking",
            "Pharynx: mild injection, tonsil 비대 없음",
            "Chest: coarse breathing sound, no wheezing, no crackle",
        ],
        meds: &[Class::Antitussive, Class::Mucolytic, Class::Analgesic],
        plan: &["충분한 수분 섭취 및 휴식 권고", "증상 지속 시 1주 후 재진, Chest X-ray 고려", "호흡곤란 또는 고열 시 즉시 내원"],
        notes: &["기침 많이 호전됨. 가래 소량. 열 없음", "약 3일분 추가 처방 후 종결", "밤 기침 여전함. 흡입제 고려"],
        imaging: &["Chest X-ray: 특이 소견 없음", "Chest X-ray: 양측 폐야 깨끗함, 심비대 없음"],
    },
    Problem {
        department: "내과",
        ages: (45, 85),
        codes: &["I10", "E11.9", "E78.5"],
        complaint: &["정기 외래 방문 (혈압, 혈당 조절)", "혈압약 처방 위해 내원"],
        history: &[
            &["{dx_year}년 고혈압 및 당뇨 진단 후 본원에서 약물치료 중인 환자로 정기 추적 위해 내원함."],
            &["가정 혈압은 130-140/80-90 mmHg 정도로 측정된다고 함.", "최근 식사 조절이 잘 되지 않아 체중이 {kg} kg 증가하였다고 함."],
            &["두통, 흉통, 어지럼증 없으며 약 복용은 규칙적으로 하고 있음."],
        ],
        exam: &[
            "General: alert, healthy looking",
            "Heart: regular rhythm without murmur",
            "Extremities: no pitting edema",
        ],
        meds: &[Class::BloodPressure, Class::Diabetes, Class::Statin],
        plan: &["다음 방문 시 공복 혈액검사 (HbA1c, lipid panel, Cr)", "저염식 및 주 5회 30분 이상 걷기 권고", "{fu} 재진"],
        notes: &["HbA1c 7.1%. 용량 유지", "혈압 128/78 mmHg. 잘 조절됨", "발 저림 호소. 신경병증 검사 예정"],
        imaging: &["심전도: 정상 동율동, 좌심실 비대 소견 없음", "안저검사: 당뇨망막병증 소견 없음"],
    },
    Problem {
        department: "정형외과",
        ages: (25, 75),
        codes: &["M54.5", "M51.2"],
        complaint: &["허리 통증 ({days}일)", "허리 및 좌측 다리 저림"],
        history: &[
            &["{days}일 전 이삿짐을 옮긴 후 발생한 허리 통증으로 내원함.", "{days}일 전부터 특별한 외상 없이 허리 통증이 발생하여 내원함."],
            &["앉아 있을 때 통증이 심해지며 좌측 엉덩이와 허벅지 뒤쪽으로 저린 느낌이 있다고 함."],
            &["대소변 장애나 하지 근력 저하는 없음."],
        ],
        exam: &[
            "L-spine: tenderness on L4-5 paraspinal area",
            "SLR test: Lt 60도 양성, Rt 음성",
            "Motor: intact, Sensory: intact",
        ],
        meds: &[Class::Nsaid, Class::MuscleRelaxant, Class::GiProtect],
        plan: &["물리치료 주 3회", "L-spine X-ray 시행: 특이 소견 없음", "2주 후 호전 없으면 MRI 고려"],
        notes: &["통증 VAS 7에서 4로 감소", "물리치료 계속. 다리 저림 남아 있음", "MRI 예약함"],
        imaging: &["L-spine X-ray: L4-5 추간판 간격 경도 감소", "L-spine X-ray: 특이 골절 소견 없음"],
    },
    Problem {
        department: "소화기내과",
        ages: (20, 80),
        codes: &["K21.9", "K29.7"],
        complaint: &["속쓰림 및 신물 올라옴 ({weeks}주)", "명치 통증 및 소화불량"],
        history: &[
            &["{weeks}주 전부터 식후에 가슴이 타는 듯한 느낌과 신물이 올라오는 증상으로 내원함."],
            &["야식 후 바로 눕는 습관이 있으며 커피를 하루 3잔 정도 마신다고 함."],
            &["체중 감소, 흑색변, 삼킴 곤란은 부인함."],
        ],
        exam: &[
            "Abdomen: soft, flat, mild epigastric tenderness",
            "Bowel sound: normoactive",
            "No rebound tenderness",
        ],
        meds: &[Class::Ppi, Class::Prokinetic, Class::GiProtect],
        plan: &["식후 3시간 이내에 눕지 않도록 교육", "커피, 술, 기름진 음식 줄이기", "4주 후 재진, 호전 없으면 위내시경"],
        notes: &["속쓰림 호전. 약 4주 더 유지", "위내시경: 역류성 식도염 LA-A", "증상 거의 없음. 필요 시 복용으로 변경"],
        imaging: &["복부 초음파: 특이 소견 없음", "위내시경: 미란성 위염, 역류성 식도염 의심"],
    },
    Problem {
        department: "내과",
        ages: (20, 80),
        codes: &["N39.0"],
        complaint: &["배뇨 시 통증, 빈뇨 ({days}일)"],
        history: &[
            &["{days}일 전부터 소변 볼 때 따끔거리는 통증과 잔뇨감, 빈뇨로 내원함."],
            &["발열이나 옆구리 통증은 없으며 1년 전에도 비슷한 증상으로 치료받은 적 있음."],
        ],
        exam: &[
            "General: not so ill-looking",
            "Abdomen: suprapubic tenderness (+)",
            "CVA tenderness: (-/-)",
        ],
        meds: &[Class::Antibiotic, Class::Analgesic],
        plan: &["Urine culture 시행, 결과 확인 후 항생제 조정", "충분한 수분 섭취 권고, 3일 후 재진"],
        notes: &["배양검사: E. coli, 감수성 확인함", "증상 소실. 치료 종결", "잔뇨감 약간 남음. 수분 섭취 교육"],
        imaging: &["소변검사: WBC 20-29/HPF, nitrite 양성", "소변검사: 백혈구 에스테라제 양성, 적혈구 5-9/HPF"],
    },
    Problem {
        department: "신경과",
        ages: (18, 60),
        codes: &["G43.9"],
        complaint: &["반복되는 두통 ({months}개월)"],
        history: &[
            &["{months}개월 전부터 한 달에 4-5회 정도 한쪽 머리가 욱신거리는 두통이 있어 내원함."],
            &["두통 시 빛과 소리에 예민해지고 오심을 동반하며, 한 번 시작하면 반나절 이상 지속된다고 함."],
            &["진통제를 한 달에 10일 이상 복용하고 있다고 함."],
        ],
        exam: &[
            "Mental: alert",
            "Cranial nerve: intact",
            "Motor/Sensory: no focal deficit",
        ],
        meds: &[Class::Nsaid, Class::Antidepressant],
        plan: &["두통 일기 작성하도록 교육", "진통제 과용 두통 가능성 설명", "1개월 후 재진"],
        notes: &["두통 횟수 월 2회로 감소", "두통 일기 확인함. 수면 부족 시 악화", "예방약 유지"],
        imaging: &["Brain CT: 특이 소견 없음", "Brain MRI: 급성 병변 없음"],
    },
    Problem {
        department: "정형외과",
        ages: (50, 85),
        codes: &["M17.1"],
        complaint: &["양측 무릎 통증 ({months}개월)"],
        history: &[
            &["{months}개월 전부터 계단을 내려갈 때 양측 무릎 통증이 있어 내원함."],
            &["아침에 무릎이 뻣뻣한 느낌이 10분 정도 있으며, 오래 걸으면 무릎이 붓는다고 함."],
        ],
        exam: &[
            "Knee: both medial joint line tenderness",
            "ROM: 0-120도, crepitus (+)",
            "Effusion: Rt mild",
        ],
        meds: &[Class::Nsaid, Class::GiProtect, Class::Analgesic],
        plan: &["3개월 후 Knee X-ray 추적 검사", "체중 감량 및 허벅지 근력 운동 교육", "통증 지속 시 관절강내 주사 고려"],
        notes: &["통증 약간 호전. 운동 계속", "히알루론산 주사 1차 시행", "부종 없음. 약 감량"],
        imaging: &["Knee X-ray: 양측 내측 관절 간격 감소, 골극 형성", "Knee X-ray: KL grade 2"],
    },
];

/// 과거력 items: one line is drawn from each group, so the history never contradicts itself.
const PAST: &[&[&str]] = &[
    &[
        "고혈압: {dx_year}년 진단, 약물 복용 중",
        "고혈압: 없음",
        "고혈압: 없음",
    ],
    &[
        "당뇨병: 없음",
        "당뇨병: 없음",
        "당뇨병: {dx_year}년 진단, 경구 혈당강하제 복용 중",
    ],
    &[
        "간염/결핵: 없음",
        "간염/결핵: 없음",
        "B형 간염 보유자 (6개월마다 정기 검진 중)",
    ],
    &[
        "수술력: 없음",
        "수술력: {op_year}년 충수절제술",
        "수술력: {op_year}년 제왕절개술",
        "수술력: {op_year}년 백내장 수술",
    ],
    &[
        "알레르기: 없음",
        "알레르기: 없음",
        "알레르기: 페니실린 (두드러기)",
        "알레르기: 조영제 (가려움증)",
    ],
    &[
        "복용 약물: 없음",
        "복용 약물: 아스피린 100 mg 1일 1회",
        "복용 약물: 혈압약 (약 이름 모름)",
        "복용 약물: 종합비타민",
    ],
];

/// Short remarks appended to hand-written notes.
const HAND_EXTRA: &[&str] = &[
    "V/S stable",
    "약 부작용 없음",
    "복약 순응도 양호",
    "보호자 동반 내원",
    "다음 방문 2주 후",
    "식사 잘 함",
    "수면 양호",
    "특이 호소 없음",
];

const FAMILY: &[&str] = &[
    "부: 고혈압",
    "모: 당뇨병",
    "부: 위암",
    "모: 고혈압, 뇌경색",
    "특이 가족력 없음",
];

/// Template variables: name → printed value.
type Vars = Vec<(&'static str, String)>;

/// What a visit draws before anything is written: the problem, who and when.
struct Visit {
    problem: &'static Problem,
    visit: NaiveDate,
    patient: people::Person,
    clinic: people::Institution,
    doctor: people::Doctor,
    style: PrintStyle,
    follow_up: NaiveDate,
    codes: Vec<kcd::Kcd>,
}

impl Visit {
    fn draw(rng: &mut Rng) -> Visit {
        let problem = rng.choose(PROBLEMS);
        let visit = recent_date(rng);
        let patient = people::patient(rng, visit, problem.ages.0, problem.ages.1);
        let small = rng.chance(0.6);
        let clinic = people::institution(rng, small);
        let doctor = people::doctor(rng, problem.department);
        let style = PrintStyle::draw(rng);
        let follow_up = visit + Duration::days(rng.pick(&[3, 7, 14, 28]));
        let n_codes = 1 + rng.below(problem.codes.len());
        let codes: Vec<_> = rng
            .sample(problem.codes, n_codes)
            .into_iter()
            .map(|c| kcd::get(c))
            .collect();
        Visit {
            problem,
            visit,
            patient,
            clinic,
            doctor,
            style,
            follow_up,
            codes,
        }
    }
}

pub(super) fn build(d: &mut Draft, rng: &mut Rng) {
    let v = Visit::draw(rng);
    let visit_text = d.date("visit", v.visit);
    // The chart is printed on the day of the visit.
    d.date("issued", v.visit);
    let fu_text = d.date("follow_up", v.follow_up);
    let vars = vec![
        ("days", rng.range(2, 10).to_string()),
        ("weeks", rng.range(2, 8).to_string()),
        ("months", rng.range(2, 12).to_string()),
        ("kg", rng.range(2, 5).to_string()),
        // Past diagnoses and operations fall in adulthood, before this visit.
        (
            "dx_year",
            past_year(rng, &v.patient, v.visit, 30).to_string(),
        ),
        (
            "op_year",
            past_year(rng, &v.patient, v.visit, 10).to_string(),
        ),
        ("fu", fu_text),
    ];

    header(d, rng, &v, &visit_text);
    subjective(d, rng, v.problem, &vars);
    vital_signs(d, rng);
    d.heading("신체검진 (P/E)");
    for line in v.problem.exam {
        d.body(*line);
    }
    test_results(d, rng, &v);
    assessment_and_plan(d, rng, &v, &vars);
    progress_notes(d, rng, &v);
    d.signature(&[&format!("진료의: {} (서명)", v.doctor.name)]);
}

/// The clinic, the title and the boxed patient details.
fn header(d: &mut Draft, rng: &mut Rng, v: &Visit, visit_text: &str) {
    let patient = &v.patient;
    d.meta(&[&v.clinic.name, &format!("출력일: {visit_text}")]);
    d.title(
        rng.pick(&["외래 진료기록", "의무기록", "외래 경과기록지"]),
        false,
    );
    d.fields.patient_name = Some(patient.name.clone());
    d.field(&["등록번호", &patient.chart_no, "환자명", &patient.name]);
    d.field(&[
        "성별/나이",
        &patient.sex_age(v.visit),
        "생년월일",
        &d.fmt_date(patient.birth),
    ]);
    d.field(&["진료과", v.problem.department, "진료의", &v.doctor.name]);
    d.field(&[
        "진료일",
        visit_text,
        "진료구분",
        rng.pick(&["초진", "재진"]),
    ]);
}

/// The history: chief complaint, present illness, past, family and social history.
fn subjective(d: &mut Draft, rng: &mut Rng, problem: &Problem, vars: &Vars) {
    d.heading("주소 (C.C.)");
    d.body(fill(rng.pick(problem.complaint), vars));

    d.heading("현병력 (P.I.)");
    let history: Vec<String> = problem
        .history
        .iter()
        .map(|slot| fill(rng.pick(slot), vars))
        .collect();
    d.body(history.join(" "));

    d.heading("과거력 (P.Hx.)");
    for (i, group) in PAST.iter().enumerate() {
        // The chart's own chronic diseases are on the list, not denied.
        let line = match i {
            0 if problem.codes.contains(&"I10") => group[0],
            1 if problem.codes.contains(&"E11.9") => group[2],
            _ => rng.pick(group),
        };
        d.body(fill(line, vars));
    }
    d.heading("가족력 / 사회력");
    d.body(format!("가족력: {}", rng.pick(FAMILY)));
    let smoke = if rng.chance(0.3) {
        format!("흡연: {}갑년 (현재 흡연)", rng.range(5, 30))
    } else {
        "흡연: 비흡연".to_string()
    };
    let drink = if rng.chance(0.5) {
        format!("음주: 주 {}회, 소주 1병", rng.range(1, 4))
    } else {
        "음주: 안 함".to_string()
    };
    d.body(format!("{smoke}, {drink}"));
}

/// Vital signs, boxed or as one line, and the review of systems.
fn vital_signs(d: &mut Draft, rng: &mut Rng) {
    d.heading("활력징후 (V/S)");
    let bp = format!("{}/{} mmHg", rng.range(105, 165), rng.range(60, 100));
    let hr = format!("{}회/분", rng.range(58, 104));
    let rr = format!("{}회/분", rng.range(14, 22));
    let temp = format!("{:.1}℃", rng.uniform(36.1, 37.9));
    let spo2 = format!("{}%", rng.range(94, 100));
    let bw = format!("{:.1} kg", rng.uniform(45.0, 92.0));
    if rng.chance(0.5) {
        d.field(&["혈압", &bp, "맥박", &hr, "호흡", &rr]);
        d.field(&["체온", &temp, "산소포화도", &spo2, "체중", &bw]);
    } else {
        d.body(format!("BP {bp}, HR {hr}, RR {rr}, BT {temp}, SpO2 {spo2}"));
    }

    d.body(
        "계통문진: 발열 (-), 오한 (-), 체중 감소 (-), 흉통 (-), 호흡곤란 (-), 복통 (-), 배뇨 이상 (-)",
    );
}

/// 검사 결과: a line of blood results and one imaging finding.
fn test_results(d: &mut Draft, rng: &mut Rng, v: &Visit) {
    d.heading("검사 결과");
    let lab_style = labs::LabStyle::draw(rng);
    let mut results = Vec::new();
    for test in labs::CBC.iter().take(3).chain(&labs::CHEMISTRY[..2]) {
        let r = labs::result(rng, test, v.patient.sex, lab_style, 0.1);
        let unit = r.unit.map(|u| format!(" {u}")).unwrap_or_default();
        let flag = r.flag.map(|f| format!(" ({f})")).unwrap_or_default();
        results.push(format!("{} {}{unit}{flag}", r.item, r.value));
    }
    d.body(format!("혈액검사: {}", results.join(", ")));
    d.body(rng.pick(v.problem.imaging));
}

/// 평가 (A) with the KCD codes, and 계획 (P) with the prescription and advice.
fn assessment_and_plan(d: &mut Draft, rng: &mut Rng, v: &Visit, vars: &Vars) {
    d.heading("평가 (A)");
    for k in &v.codes {
        d.body(format!("# {} {}", k.code, k.name));
    }
    d.fields.diagnosis_codes = v.codes.iter().map(|k| k.code.to_string()).collect();

    d.heading("계획 (P)");
    let problem = v.problem;
    let days = if problem.meds.contains(&Class::BloodPressure) {
        None
    } else {
        Some(rng.pick(&[3u32, 5, 7, 14]))
    };
    let drugs = drugs::prescribe_all(rng, problem.meds, v.style, days);
    d.drug_table(
        &[
            "약품명",
            "1회 투약량",
            "1일 투여횟수",
            "총 투약일수",
            "용법",
        ],
        drugs,
    );
    for p in problem.plan {
        d.body(format!("- {}", fill(p, vars)));
    }
    d.body(rng.pick(&[
        "- 복약 방법 및 생활 습관 교정에 대해 설명하였으며 환자가 이해함.",
        "- 약물 부작용 (위장 장애, 어지럼증) 발생 시 복용을 중단하고 내원하도록 설명함.",
        "- 환자 및 보호자에게 질환의 경과와 치료 계획을 설명함.",
    ]));
}

/// Follow-up notes written by hand on the printout.
fn progress_notes(d: &mut Draft, rng: &mut Rng, v: &Visit) {
    d.heading("경과기록");
    let n_notes = 2 + rng.below(v.problem.notes.len() - 1);
    let mut day = v.follow_up;
    for note in rng.sample(v.problem.notes, n_notes) {
        let date = d.fmt_date(day);
        let extra = rng.pick(HAND_EXTRA);
        d.hand(format!("{date} {note}. {extra}"));
        day += Duration::days(rng.pick(&[7, 14, 28]));
    }
}

/// A year between the patient's `min_age` birthday and the year before `visit`.
fn past_year(rng: &mut Rng, patient: &people::Person, visit: NaiveDate, min_age: i32) -> i64 {
    use chrono::Datelike;
    let last = i64::from(visit.year()) - 1;
    let first = (i64::from(patient.birth.year()) + i64::from(min_age)).min(last);
    rng.range(first, last)
}
