"""The site's words: Bahasa Indonesia (the default, for the citizens of Jawa Tengah) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["id", "en"]

LABELS: dict[str, dict[str, str]] = {
    "id": {
        "site_title": "Transparansi Layanan Publik Jawa Tengah",
        "nav_overview": "Ringkasan provinsi",
        "nav_regencies": "Kabupaten/kota",
        "nav_checkpoint": "Verifikasi catatan",
        "overview_intro": ("Berapa permohonan layanan publik yang masuk di setiap kabupaten/kota, berapa yang selesai "
                           "sesuai standar waktu pelayanan, berapa kali warga diminta biaya di atas tarif resmi, "
                           "dan berapa pengaduan yang ditangani tepat waktu; juga penerimaan SPMB SMA per jalur "
                           "terhadap kuota, laporan jalan rusak dan perbaikannya, dan kontrak pekerjaan umum yang "
                           "dibayar mendahului progres fisik. Angka dari Simpul, bus data "
                           "Pemerintah Provinsi Jawa Tengah."),
        "regency_intro": "Per layanan dan per bulan (bulan pengajuan permohonan, bulan pengaduan dibuat).",
        "no_data": "Belum ada data untuk kabupaten/kota ini.",
        "table_regencies": "Per kabupaten/kota (semua layanan dan bulan)",
        "table_province_services": "Provinsi per layanan dan bulan",
        "table_regency": "{name}: per layanan dan bulan",
        "chart_sla_by_regency": "Persentase permohonan selesai sesuai standar waktu, per kabupaten/kota",
        "chart_sla_by_service": "Persentase selesai sesuai standar waktu, per layanan dan bulan",
        "chart_requests_by_service": "Jumlah permohonan per layanan dan bulan",
        "regency_code": "Kode wilayah",
        "regency_name": "Kabupaten/kota",
        "service_code": "Kode layanan",
        "service_name": "Layanan",
        "period": "Bulan",
        "requests": "Permohonan",
        "completed": "Selesai",
        "sla_met_pct": "% selesai sesuai standar",
        "median_completion_hours": "Median waktu selesai (jam)",
        "standard_hours": "Standar waktu (jam)",
        "fee_anomalies": "Biaya di atas tarif resmi",
        "complaints": "Pengaduan",
        "complaints_resolved_in_time_pct": "% pengaduan selesai tepat waktu (SP4N-LAPOR!)",
        "no_service": "Tanpa layanan tertentu",
        "charts_suppressed": ("Grafik layanan tidak ditampilkan: setiap angkanya mewakili kurang dari 5 orang "
                              "(lihat tabel)."),
        "download": "Unduh",
        "empty": "Tidak ada baris.",
        "suppression": ("Sel yang mewakili kurang dari 5 orang disembunyikan dan ditulis \u201c<5\u201d, juga dalam "
                        "unduhan CSV dan JSON; persentase dan median yang dihitung dari kurang dari 5 orang juga "
                        "disembunyikan. \u201c\u2013\u201d berarti tidak ada angka."),
        "definitions": ("% selesai sesuai standar: dari permohonan yang terbit (ISSUED) dengan standar waktu, "
                        "yang selesai dalam standar. Median: waktu dari pengajuan sampai terbit. Biaya di atas "
                        "tarif: permohonan yang dikenai biaya melebihi tarif resmi. % pengaduan selesai tepat "
                        "waktu: dari pengaduan yang masuk, yang berstatus selesai (RESOLVED) paling lambat 3 + 5 "
                        "hari kerja (batas verifikasi dan tindak lanjut SP4N-LAPOR!) sejak dibuat."),
        "checkpoint_title": "Verifikasi catatan: checkpoint bertanda tangan terbaru",
        "checkpoint_intro": ("Setiap peristiwa yang diterima provinsi dicatat dalam log transparansi yang hanya "
                             "bisa ditambah (pohon Merkle, RFC 6962). Checkpoint di bawah ini ditandatangani "
                             "provinsi (Ed25519); siapa pun dapat memeriksanya dengan kunci publik saja."),
        "checkpoint_none": "Belum ada checkpoint.",
        "checkpoint_origin": "Asal log",
        "checkpoint_size": "Jumlah entri",
        "checkpoint_root": "Hash akar (hex)",
        "checkpoint_signed_at": "Ditandatangani (UTC)",
        "checkpoint_key": "Kunci verifikasi (publik)",
        "checkpoint_note": "Catatan bertanda tangan (format C2SP signed note)",
        "checkpoint_how": ("Cara memeriksa: unduh catatan dan kunci verifikasi di atas, lalu jalankan skrip "
                           "mandiri dari panduan audit (hanya butuh pustaka Python `cryptography`), atau "
                           "`simpul audit verify` bila Anda memegang salinan data."),
        "checkpoint_guide": "Panduan audit (docs/audit.md)",
        "checkpoint_script": ("memeriksa bukti inklusi atau tanda terima (receipt) terhadap checkpoint dengan kunci "
                              "publik provinsi:"),
        "checkpoint_guide_missing": "Panduan audit: docs/audit.md di repositori Simpul.",
        "generated": "Dibuat",
        "internal_note": ("Angka internal tanpa penyembunyian ada pada `simpul report`; situs publik ini "
                          "menyembunyikan sel kecil."),
        "lang_name": "Bahasa Indonesia",
        "table_admissions": "SPMB {level}: kursi dan penerimaan per kabupaten/kota dan tahun (semua jalur)",
        "table_admissions_regency": "{name}: SPMB {level} per tahun dan jalur",
        "table_roads": "Laporan jalan rusak per kabupaten/kota",
        "table_roads_regency": "{name}: laporan jalan rusak",
        "table_works": "Kontrak pekerjaan umum per kabupaten/kota",
        "table_works_regency": "{name}: kontrak pekerjaan umum",
        "note_admissions": ("Kuota dari data kuota yang diterbitkan sekolah (SchoolQuotaPublished). Pendaftar, "
                            "diterima dan diterima setelah batas waktu adalah orang: 1 sampai 4 ditulis "
                            "\u201c<5\u201d. "
                            "Sekolah, kursi dan sekolah melebihi kuota bukan orang dan ditampilkan apa adanya. "
                            "Di ringkasan, \u201csekolah melebihi kuota\u201d dijumlahkan per jalur."),
        "note_roads": ("Laporan jalan adalah laporan tentang jalan, bukan orang: tidak disembunyikan. Target "
                       "penanganan adalah target milik instansi pemilik jalan sendiri (Jalan Cantik provinsi: "
                       "1\u00d724 jam), bukan batas waktu menurut undang-undang; jalan lain tidak memiliki target "
                       "yang diterbitkan."),
        "note_works": ("Kontrak bukan orang: tidak disembunyikan. Progres dan pembayaran: laporan terakhir tiap "
                       "kontrak, dirata-ratakan. Dibayar mendahului progres: kontrak dengan laporan yang persentase "
                       "pembayarannya melebihi progres fisik yang diverifikasi (temuan BPK yang sering)."),
        "chart_admissions_by_route": "SPMB {level} {year}: kursi dan diterima per jalur",
        "chart_admissions_by_regency": "SPMB {level} {year}: kursi dan diterima per kabupaten/kota",
        "chart_roads_by_regency": "Laporan jalan rusak diterima dan diperbaiki, per kabupaten/kota",
        "chart_works_by_regency": "Kontrak dan kontrak dibayar mendahului progres, per kabupaten/kota",
        "route_domisili": "Domisili",
        "route_afirmasi": "Afirmasi",
        "route_mutasi": "Mutasi",
        "route_prestasi": "Prestasi",
        "school_level": "Jenjang",
        "admission_year": "Tahun",
        "route": "Kode jalur",
        "route_name": "Jalur",
        "schools": "Sekolah",
        "quota_seats": "Kursi (kuota)",
        "applied": "Pendaftar",
        "admitted": "Diterima",
        "admitted_pct_of_quota": "% dari kuota",
        "schools_over_quota": "Sekolah melebihi kuota",
        "admitted_after_deadline": "Diterima setelah batas waktu",
        "reports": "Laporan diterima",
        "reports_national": "Jalan nasional",
        "reports_provincial": "Jalan provinsi",
        "reports_regency": "Jalan kabupaten/kota",
        "reports_village": "Jalan desa",
        "repaired": "Diperbaiki",
        "median_hours_to_repair": "Median waktu perbaikan (jam)",
        "forwarded": "Diteruskan ke pemilik jalan",
        "rejected": "Ditolak",
        "with_target": "Dengan target instansi sendiri",
        "handled_within_target": "Ditangani dalam target instansi sendiri",
        "handled_late": "Ditangani melewati target",
        "contracts": "Kontrak",
        "contract_value_idr": "Nilai kontrak (Rp)",
        "mean_progress_pct": "Rata-rata progres fisik (%)",
        "mean_payment_pct": "Rata-rata pembayaran (%)",
        "contracts_payment_ahead": "Kontrak dibayar mendahului progres",
        "paid_ahead_idr": "Dibayar mendahului progres (Rp)",
    },
    "en": {
        "site_title": "Public Service Transparency, Central Java",
        "nav_overview": "Province overview",
        "nav_regencies": "Regencies and cities",
        "nav_checkpoint": "Verify the record",
        "overview_intro": ("How many public-service requests each regency and city received, how many were completed "
                           "within the legal service standard, how often citizens were charged above the official "
                           "tariff, and how many complaints were handled in time; also SPMB senior high school "
                           "admissions per route against the quota, road damage reports and their repair, and public "
                           "works contracts paid ahead of physical progress. Figures from Simpul, the event "
                           "bus of the Central Java provincial government."),
        "regency_intro": "Per service and month (the month a request was submitted, a complaint filed).",
        "no_data": "No data for this regency or city yet.",
        "table_regencies": "Per regency and city (all services and months)",
        "table_province_services": "Province per service and month",
        "table_regency": "{name}: per service and month",
        "chart_sla_by_regency": "Share of requests completed within the standard time, per regency and city",
        "chart_sla_by_service": "Share completed within the standard time, per service and month",
        "chart_requests_by_service": "Requests per service and month",
        "regency_code": "Region code",
        "regency_name": "Regency/city",
        "service_code": "Service code",
        "service_name": "Service",
        "period": "Month",
        "requests": "Requests",
        "completed": "Completed",
        "sla_met_pct": "% within the standard",
        "median_completion_hours": "Median completion time (hours)",
        "standard_hours": "Standard time (hours)",
        "fee_anomalies": "Fees above the official tariff",
        "complaints": "Complaints",
        "complaints_resolved_in_time_pct": "% complaints resolved in time (SP4N-LAPOR!)",
        "no_service": "No particular service",
        "charts_suppressed": ("No service chart: every figure it would draw stands for fewer than 5 people (see the "
                              "table)."),
        "download": "Download",
        "empty": "No rows.",
        "suppression": ("Cells standing for fewer than 5 people are suppressed and shown as \u201c<5\u201d, in the "
                        "CSV and JSON downloads too; shares and medians computed from fewer than 5 people are "
                        "suppressed as well. \u201c\u2013\u201d means no figure."),
        "definitions": ("% within the standard: of the requests issued (ISSUED) that have a standard time, those "
                        "completed within it. Median: time from submission to issue. Fees above the tariff: "
                        "requests charged more than the official tariff. % complaints resolved in time: of the "
                        "complaints filed, those RESOLVED within 3 + 5 working days (the SP4N-LAPOR! verification "
                        "and follow-up deadlines) of filing."),
        "checkpoint_title": "Verify the record: the latest signed checkpoint",
        "checkpoint_intro": ("Every event the province accepts is recorded in an append-only transparency log "
                             "(a Merkle tree, RFC 6962). The checkpoint below is signed by the province (Ed25519); "
                             "anyone can check it with the public key alone."),
        "checkpoint_none": "No checkpoint yet.",
        "checkpoint_origin": "Log origin",
        "checkpoint_size": "Entries",
        "checkpoint_root": "Root hash (hex)",
        "checkpoint_signed_at": "Signed (UTC)",
        "checkpoint_key": "Verifier key (public)",
        "checkpoint_note": "Signed note (C2SP signed-note format)",
        "checkpoint_how": ("How to check: download the note and the verifier key above, then run the standalone "
                           "script of the audit guide (it needs only the Python library `cryptography`), or "
                           "`simpul audit verify` if you hold a copy of the data."),
        "checkpoint_guide": "Audit guide (docs/audit.md)",
        "checkpoint_script": "checks an inclusion proof or a receipt against its checkpoint with the province's key:",
        "checkpoint_guide_missing": "Audit guide: docs/audit.md in the Simpul repository.",
        "generated": "Built",
        "internal_note": ("The unsuppressed internal figures are those of `simpul report`; this public site "
                          "suppresses small cells."),
        "lang_name": "English",
        "table_admissions": "SPMB {level}: seats and admissions per regency and year (all routes)",
        "table_admissions_regency": "{name}: SPMB {level} per year and route",
        "table_roads": "Road damage reports per regency and city",
        "table_roads_regency": "{name}: road damage reports",
        "table_works": "Public works contracts per regency and city",
        "table_works_regency": "{name}: public works contracts",
        "note_admissions": ("Quotas as the schools published them (SchoolQuotaPublished). Applicants, admissions "
                            "and admissions after the deadline are people: 1 to 4 is shown as \u201c<5\u201d. Schools, "
                            "seats and schools over quota are not people and are shown as they are. In the overview, "
                            "\u201cschools over quota\u201d is added up over the routes."),
        "note_roads": ("Road reports are reports about roads, not people: nothing is suppressed. The handling target "
                       "is the road owner's own target (the province's Jalan Cantik: 1\u00d724 hours), not a "
                       "statutory deadline; the other roads have no published target."),
        "note_works": ("Contracts are not people: nothing is suppressed. Progress and payment: each contract's "
                       "latest report, averaged. Paid ahead of progress: contracts with a report whose payment "
                       "share exceeds the verified physical progress (a frequent finding of the audit board)."),
        "chart_admissions_by_route": "SPMB {level} {year}: seats and admissions per route",
        "chart_admissions_by_regency": "SPMB {level} {year}: seats and admissions per regency and city",
        "chart_roads_by_regency": "Road damage reports received and repaired, per regency and city",
        "chart_works_by_regency": "Contracts and contracts paid ahead of progress, per regency and city",
        "route_domisili": "Residence (domisili)",
        "route_afirmasi": "Affirmative (afirmasi)",
        "route_mutasi": "Parent transfer (mutasi)",
        "route_prestasi": "Merit (prestasi)",
        "school_level": "Level",
        "admission_year": "Year",
        "route": "Route code",
        "route_name": "Route",
        "schools": "Schools",
        "quota_seats": "Seats (quota)",
        "applied": "Applicants",
        "admitted": "Admitted",
        "admitted_pct_of_quota": "% of quota",
        "schools_over_quota": "Schools over quota",
        "admitted_after_deadline": "Admitted after the deadline",
        "reports": "Reports received",
        "reports_national": "National roads",
        "reports_provincial": "Provincial roads",
        "reports_regency": "Regency/city roads",
        "reports_village": "Village roads",
        "repaired": "Repaired",
        "median_hours_to_repair": "Median time to repair (hours)",
        "forwarded": "Forwarded to the road's owner",
        "rejected": "Rejected",
        "with_target": "With the authority's own target",
        "handled_within_target": "Handled within the authority's own target",
        "handled_late": "Handled after the target",
        "contracts": "Contracts",
        "contract_value_idr": "Contract value (IDR)",
        "mean_progress_pct": "Mean physical progress (%)",
        "mean_payment_pct": "Mean payment (%)",
        "contracts_payment_ahead": "Contracts paid ahead of progress",
        "paid_ahead_idr": "Paid ahead of progress (IDR)",
    },
}
