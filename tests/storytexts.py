"""Hand-written news texts for the story-clustering tests: one agency dispatch, its copies, and
articles on the same subject that are NOT copies (same minister, same topic words)."""

DISPATCH_TITLE = "Seghrouchni launches national programme to train 100,000 young people in digital skills"
DISPATCH = """Rabat - Minister Delegate in charge of Digital Transition and Administrative Reform, Amal El Fallah Seghrouchni, on Monday launched in Rabat a national programme aimed at training 100,000 young people in digital professions by 2030, as part of the "Digital Morocco 2030" strategy.

Speaking at the launch ceremony, held in the presence of representatives of universities, vocational training institutes and technology companies, Seghrouchni said the programme responds to the growing demand of national and international firms for qualified profiles in software development, cybersecurity, data analysis and artificial intelligence.

The minister explained that the training courses, lasting from three to twelve months, will be delivered in twelve regional centres and through an online platform, with a particular focus on young people from rural areas and on graduates who have not yet found a job.

According to figures presented during the ceremony, the digital sector currently employs around 150,000 people in Morocco, and the offshoring industry alone plans to recruit 25,000 additional employees over the next two years.

The programme will be financed jointly by the State and by private partners, who have committed to offering internships and jobs to the best graduates. A monitoring committee will publish an annual report on the number of people trained and on their integration into the labour market.

Seghrouchni also announced the creation of a national label for digital training providers, which will guarantee the quality of the courses and their alignment with the needs of employers.

The launch of this programme follows the signing last month of several agreements between the ministry and regional councils to set up digital skills hubs in Oujda, Agadir, Laayoune and Beni Mellal."""

LEAD_COPY_TITLE = "100,000 young Moroccans to be trained in digital jobs"
LEAD_COPY = """Rabat - Minister Delegate in charge of Digital Transition and Administrative Reform, Amal El Fallah Seghrouchni, on Monday launched in Rabat a national programme aimed at training 100,000 young people in digital professions by 2030, as part of the "Digital Morocco 2030" strategy.

Our newsroom contacted several training centres in Casablanca, whose directors welcomed the initiative but warned that the shortage of qualified trainers remains a serious obstacle.

Employers' associations have long complained that graduates lack practical experience with the tools used in companies.

Registration for the first courses is expected to open in January, according to the ministry's website."""

OTHER_TITLE = "Seghrouchni defends digital administration budget before parliament"
OTHER = """Minister Delegate in charge of Digital Transition and Administrative Reform Amal El Fallah Seghrouchni defended on Tuesday before the finance committee of the House of Representatives the budget of her department for next year, which rises by eight percent.

The minister said that most of the new credits will go to the digitisation of administrative procedures, with the goal of offering six hundred public services online by the end of the year, against about three hundred today.

Several members of parliament questioned the pace of the digital transition in the regions, pointing out that many municipalities still lack a reliable internet connection and trained staff.

In response, Seghrouchni said that a plan to connect rural municipalities is under way with the national telecommunications regulator, and that training sessions for civil servants will be organised in every region.

Opposition deputies also asked about the protection of personal data in the new online services. The minister said the national data protection commission is associated with every project from the design stage.

The committee is expected to vote on the budget of the ministry later this week, before the bill is examined in plenary session."""
