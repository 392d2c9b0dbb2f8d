/**
 * The order to read the notebooks in, for each audience the site serves. Names a notebook by
 * its file name without .ipynb; one that does not exist (yet) is left out of the list.
 */
export interface Audience {
  who: string;
  why: string;
  order: readonly string[];
}

export const READING_ORDER: readonly Audience[] = [
  {
    who: "Documentation authors",
    why: "how a checked notebook is written, then the uAPI it documents",
    order: ["09-writing-notebooks", "00-first-migration", "01-uapi-tour", "06-v1-to-v2"],
  },
  {
    who: "Reviewers of a migration driver",
    why: "what the uAPI requires of a driver, the multi-device and interrupt rules, and how the suite checks them",
    order: ["01-uapi-tour", "02-quiescing", "03-irq-restore", "04-dirty-tracking", "07-conformance", "06-v1-to-v2"],
  },
  {
    who: "New engineers",
    why: "one migration end to end, then each piece of the uAPI in turn",
    order: ["00-first-migration", "01-uapi-tour", "02-quiescing", "03-irq-restore", "04-dirty-tracking", "05-live-migration", "08-iommufd", "06-v1-to-v2"],
  },
];
