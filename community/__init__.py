"""Community: drivers' questions and answers (车主论坛), tagged with fault codes, part types and models.

Posting needs a proven phone; new and low-standing accounts and keyword hits are held for review (先审后发);
reports carry a review deadline; moderation hides with a logged reason and never deletes; an OEM-verified
answer can become a knowledge article draft. Search is the knowledge base's (knowledge.search). See
docs/community.md.
"""
